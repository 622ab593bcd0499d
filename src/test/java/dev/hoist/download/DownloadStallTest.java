package dev.hoist.download;

import static dev.hoist.download.DownloadHarness.WEIGHTS;
import static dev.hoist.download.DownloadHarness.logs;
import static dev.hoist.download.DownloadHarness.sha256;
import static org.assertj.core.api.Assertions.assertThat;

import dev.hoist.HoistConfig;
import dev.hoist.support.FaultHub.Answer;
import io.vertx.core.json.JsonObject;
import java.nio.file.Files;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * A hub that goes quiet: a stall shows in the progress while it lasts ({@code stalled},
 * {@code stalled_seconds}, every second), the silent connection is replaced, and the transfer
 * resumes with Range; a slow but steady drip is not a stall.
 */
class DownloadStallTest extends DownloadFixture {

  @Test
  void aFullStallShowsAsStalledEverySecondThenRecoversOnANewConnection() throws Exception {
    byte[] weights = DownloadHarness.weights(2 << 20, 1);
    h.repo("test/stall", weights);
    long stallAt = weights.length * 3L / 10;
    // The first connection goes quiet after 30 %, the second never answers, the third serves.
    hub.on(WEIGHTS, (req, n) -> n == 0 ? Answer.normal().stallAfter(stallAt) : n == 1 ? Answer.silence() : Answer.normal());
    h.startHoist(new JsonObject().put(HoistConfig.DOWNLOAD_STALL_SECONDS, 1));

    String id = h.start("test/stall");
    DownloadHarness.Healthy healthy = h.healthyAlongside();
    JsonObject op = h.finish(id);
    healthy.assertUnharmed();
    assertThat(op.getString("status")).as("logs %s", logs(op)).isEqualTo("completed");

    List<JsonObject> stages = h.updates(id).stream().map(u -> u.getJsonObject("stage")).toList();
    List<Long> stalledSeconds = stages.stream().filter(s -> s.getBoolean("stalled", false))
        .map(s -> s.getLong("stalled_seconds")).distinct().toList();
    assertThat(stalledSeconds).as("reported each second while stalled").containsSubsequence(1L, 2L);
    int lastStalled = lastIndexWhere(stages, true);
    assertThat(stages.subList(lastStalled + 1, stages.size())).as("stalled: false once bytes flow again")
        .anyMatch(s -> !s.getBoolean("stalled") && s.getValue("stalled_seconds") == null && "downloading".equals(s.getString("name")));
    assertThat(h.updates(id).stream().filter(u -> u.getJsonObject("stage").getBoolean("stalled", false)).map(u -> u.getString("message")))
        .allMatch(m -> m.contains("Stalled") && m.contains(WEIGHTS));

    assertThat(hub.seen(WEIGHTS)).hasSize(3);
    assertThat(hub.seen(WEIGHTS).get(1).range).as("the replacement resumes").isEqualTo("bytes=" + stallAt + "-");
    assertThat(hub.seen(WEIGHTS).get(2).range).isEqualTo("bytes=" + stallAt + "-");
    assertThat(logs(op)).contains("No data from the hub for model.safetensors").contains("replacing the connection")
        .contains("Data is flowing again for model.safetensors");
    assertThat(sha256(Files.readAllBytes(h.blob("test/stall", sha256(weights))))).isEqualTo(sha256(weights));
    assertThat(hub.bytesSent(WEIGHTS)).isEqualTo(weights.length);
  }

  @Test
  void aSlowDripIsNotAStallAndCompletes() throws Exception {
    byte[] weights = DownloadHarness.weights(1 << 20, 2);
    h.repo("test/drip", weights);
    // About 1.5 s for the file in chunks of ~20 KiB: slow, but never a second without bytes.
    hub.on(WEIGHTS, (req, n) -> Answer.normal().rate(weights.length * 2L / 3));
    h.startHoist(new JsonObject().put(HoistConfig.DOWNLOAD_STALL_SECONDS, 1));

    String id = h.start("test/drip");
    JsonObject op = h.finish(id);
    assertThat(op.getString("status")).as("logs %s", logs(op)).isEqualTo("completed");
    assertThat(h.updates(id)).noneMatch(u -> u.getJsonObject("stage").getBoolean("stalled", false));
    assertThat(hub.seen(WEIGHTS)).hasSize(1);
    assertThat(logs(op)).doesNotContain("Retrying").doesNotContain("No data");
    assertThat(h.updates(id).stream().map(u -> u.getJsonObject("stage")).filter(s -> "downloading".equals(s.getString("name")))
        .mapToLong(s -> s.getLong("bytes_done")).distinct().count()).as("progress moved in many steps").isGreaterThan(3);
  }

  private static int lastIndexWhere(List<JsonObject> stages, boolean stalled) {
    for (int i = stages.size() - 1; i >= 0; i--) {
      if (stages.get(i).getBoolean("stalled", false) == stalled) {
        return i;
      }
    }
    return -1;
  }
}
