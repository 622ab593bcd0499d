package dev.hoist.load;

import static dev.hoist.support.TestSupport.await;
import static org.assertj.core.api.Assertions.assertThat;

import dev.hoist.Hoist;
import dev.hoist.HoistConfig;
import dev.hoist.support.TestSupport;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.client.HttpResponse;
import io.vertx.ext.web.client.WebClient;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/**
 * The load stage inside the whole of Hoist, over HTTP: a catalog entry with a {@code native}
 * service, and an in-process load slowed down enough for the registry's rate and ETA to show.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class LoadEndToEndTest {

  @TempDir
  static Path dataDir;
  private Vertx vertx;
  private Hoist.Deployment hoist;
  private WebClient http;

  @BeforeAll
  void start() throws Exception {
    JsonObject serve = new JsonObject()
        .put("command", "python3 '" + NativeServiceTest.SERVE + "' --model {path} --port {port} --delay-ms 60")
        .put("timeout_seconds", 30);
    JsonObject catalog = new JsonObject().put("models", new JsonArray()
        // the same repo as demo-tiny: one download serves both tests (each unloads what it loaded)
        .add(new JsonObject().put("name", "native-tiny").put("repo", "hoist/demo-tiny").put("revision", "main")
            .put("hub", "mirror").put("native", serve))
        .add(new JsonObject().put("name", "demo-tiny").put("repo", "hoist/demo-tiny").put("revision", "main")
            .put("hub", "mirror")));
    Path models = dataDir.resolve("models.json");
    Files.writeString(models, catalog.encodePrettily());
    JsonObject config = TestSupport.config(dataDir)
        .put(HoistConfig.MODELS_FILE, models.toString())
        .put(HoistConfig.LOAD_MAX_BYTES_PER_SECOND, 8L << 20) // demo-tiny's 16 MiB: 2 s of loading
        .put(HoistConfig.NATIVE_KILL_GRACE_MS, 300);
    vertx = Vertx.vertx();
    hoist = await(Hoist.deploy(vertx, config));
    http = WebClient.create(vertx);
  }

  @AfterAll
  void stop() {
    await(vertx.close());
  }

  @Test
  void aNativeCatalogEntryLoadsThroughItsServiceAndUnloadsOverRest() throws Exception {
    long size = Files.size(TestSupport.sharedMirror().resolve("hoist/demo-tiny/model.safetensors"));
    String id = post("/api/llm/load", new JsonObject().put("model_name", "native-tiny")).bodyAsJsonObject()
        .getString("operation_id");
    Watch watch = watch(id);
    JsonObject op = watch.last;
    assertThat(op.getString("status")).as("logs: %s", op.getJsonArray("logs")).isEqualTo("completed");
    assertThat(watch.progress).isSorted();
    assertThat(watch.loadingBytes).isSorted();
    assertThat(watch.loadingBytes.stream().distinct().count()).as("load progress values").isGreaterThanOrEqualTo(3);

    List<String> lines = new ArrayList<>();
    op.getJsonArray("logs").forEach(l -> lines.add(((String) l).replaceFirst("^\\d\\d:\\d\\d:\\d\\d (WARN |ERROR )?", "")));
    assertThat(lines).containsSubsequence("fake-llm: loading 1 file(s), " + size + " bytes",
        "fake-llm: read " + size + " of " + size + " bytes");
    JsonObject nativeInfo = op.getJsonObject("summary").getJsonObject("native");
    long pid = nativeInfo.getLong("pid");
    assertThat(NativeServiceTest.status(nativeInfo.getString("url") + "/health")).isEqualTo(200);

    HttpResponse<Buffer> unload = post("/api/llm/models/native-tiny/unload", new JsonObject());
    assertThat(unload.statusCode()).as(unload.bodyAsString()).isEqualTo(200);
    assertThat(unload.bodyAsJsonObject().getLong("bytes_released")).isPositive();
    assertThat(NativeServiceTest.running(pid)).isFalse();
  }

  @Test
  void anInProcessLoadReportsMonotonicBytesAndTheRegistryShowsAnEta() throws Exception {
    String id = post("/api/llm/load", new JsonObject().put("model_name", "demo-tiny")).bodyAsJsonObject()
        .getString("operation_id");
    Watch watch = watch(id);
    assertThat(watch.last.getString("status")).as("logs: %s", watch.last.getJsonArray("logs")).isEqualTo("completed");
    assertThat(watch.loadingBytes).isSorted();
    assertThat(watch.loadingBytes.stream().distinct().count()).isGreaterThanOrEqualTo(5);
    assertThat(watch.etas).as("eta_seconds while loading").isNotEmpty();
    assertThat(LoadedModels.get(vertx, "hoist/demo-tiny")).isPresent();
    assertThat(post("/api/llm/models/demo-tiny/unload", new JsonObject()).statusCode()).isEqualTo(200);
    assertThat(LoadedModels.get(vertx, "hoist/demo-tiny")).isEmpty();
  }

  /** What a poller saw of one operation until it finished. */
  private static final class Watch {
    final List<Integer> progress = new ArrayList<>();
    final List<Long> loadingBytes = new ArrayList<>();
    final List<Long> etas = new ArrayList<>();
    JsonObject last;
  }

  private Watch watch(String id) throws InterruptedException {
    Watch w = new Watch();
    long deadline = System.nanoTime() + Duration.ofSeconds(40).toNanos();
    while (System.nanoTime() < deadline) {
      JsonObject op = get("/api/llm/progress/" + id).bodyAsJsonObject();
      w.last = op;
      w.progress.add(op.getInteger("progress"));
      JsonObject stage = op.getJsonObject("stage");
      if ("loading".equals(op.getString("status")) && stage != null && stage.getLong("bytes_total", 0L) > 0) {
        w.loadingBytes.add(stage.getLong("bytes_done"));
        if (stage.getValue("eta_seconds") != null && stage.getLong("bytes_done") < stage.getLong("bytes_total")) {
          w.etas.add(stage.getLong("eta_seconds"));
        }
      }
      if (op.getString("status").equals("completed") || op.getString("status").equals("error")) {
        break;
      }
      Thread.sleep(20);
    }
    return w;
  }

  private HttpResponse<Buffer> post(String path, JsonObject body) {
    return await(http.post(hoist.httpPort(), "127.0.0.1", path).sendJsonObject(body));
  }

  private HttpResponse<Buffer> get(String path) {
    return await(http.get(hoist.httpPort(), "127.0.0.1", path).send());
  }
}
