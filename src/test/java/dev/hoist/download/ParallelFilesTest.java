package dev.hoist.download;

import static dev.hoist.download.DownloadHarness.logs;
import static org.assertj.core.api.Assertions.assertThat;

import dev.hoist.HoistConfig;
import dev.hoist.support.FaultHub.Answer;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Several files at once (HOIST_DOWNLOAD_PARALLEL_FILES), within one cap on connections (HOIST_DOWNLOAD_MAX_CONNECTIONS). */
class ParallelFilesTest extends DownloadFixture {

  @ParameterizedTest(name = "{0} file(s) at once")
  @ValueSource(ints = {1, 4})
  void severalFilesAreFetchedAtOnceUpToTheLimit(int parallel) throws Exception {
    h.shardedRepo("test/shards", 4, 512 << 10);
    hub.on("model-00001-of-00004.safetensors", (req, n) -> Answer.normal().rate(1L << 20));
    hub.on("model-00002-of-00004.safetensors", (req, n) -> Answer.normal().rate(1L << 20));
    hub.on("model-00003-of-00004.safetensors", (req, n) -> Answer.normal().rate(1L << 20));
    hub.on("model-00004-of-00004.safetensors", (req, n) -> Answer.normal().rate(1L << 20));
    h.startHoist(new JsonObject().put(HoistConfig.DOWNLOAD_PARALLEL_FILES, parallel));

    JsonObject op = h.loadAndWait("test/shards");
    assertThat(op.getString("status")).as("logs %s", logs(op)).isEqualTo("completed");
    assertThat(op.getJsonObject("stage").getInteger("files_total")).isEqualTo(6);
    if (parallel == 1) {
      assertThat(hub.maxParallel()).isEqualTo(1);
    } else {
      assertThat(hub.maxParallel()).isGreaterThanOrEqualTo(3);
    }
  }

  @Test
  void theConnectionCapHoldsForEveryRangeOfEveryFile() throws Exception {
    byte[] weights = DownloadHarness.weights(6 << 20, 13);
    h.repo("test/capped", weights);
    hub.on(DownloadHarness.WEIGHTS, (req, n) -> Answer.normal().rate(6L << 20));
    h.startHoist(new JsonObject().put(HoistConfig.DOWNLOAD_CHUNK_BYTES, 1 << 20).put(HoistConfig.DOWNLOAD_MAX_CONNECTIONS, 2));

    JsonObject op = h.loadAndWait("test/capped");
    assertThat(op.getString("status")).as("logs %s", logs(op)).isEqualTo("completed");
    assertThat(hub.seen(DownloadHarness.WEIGHTS)).hasSize(7);
    assertThat(hub.maxParallel()).isEqualTo(2);
  }
}
