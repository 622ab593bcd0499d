package dev.hoist.load;

import static dev.hoist.support.TestSupport.await;
import static dev.hoist.support.TestSupport.waitUntil;
import static org.assertj.core.api.Assertions.assertThat;

import dev.hoist.Hoist;
import dev.hoist.HoistConfig;
import dev.hoist.support.TestSupport;
import io.vertx.core.Vertx;
import io.vertx.core.http.WebSocket;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.client.WebClient;
import io.vertx.junit5.VertxExtension;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/** Resident models over time: keep-alive unloads idle ones, touching keeps them, pins hold, eviction makes room. */
@ExtendWith(VertxExtension.class)
class KeepWarmTest {

  @TempDir
  Path dataDir;
  private Vertx vertx;
  private WebClient http;
  private int port;

  @BeforeEach
  void setUp() {
    vertx = Vertx.vertx();
    http = WebClient.create(vertx);
  }

  @AfterEach
  void tearDown() {
    await(vertx.close());
  }

  /** A catalog where demo-tiny has a 2 s keep-alive and tiny-pinned is the same repo, pinned. */
  private void start(JsonObject extra) throws Exception {
    JsonArray models = new JsonArray()
        .add(new JsonObject().put("name", "demo-tiny").put("repo", "hoist/demo-tiny").put("hub", "mirror").put("keep_alive", "2s"))
        .add(new JsonObject().put("name", "demo-gguf").put("repo", "hoist/demo-gguf").put("hub", "mirror"))
        .add(new JsonObject().put("name", "tiny-pinned").put("repo", "hoist/demo-tiny").put("hub", "mirror").put("pinned", true));
    Path catalog = dataDir.resolve("models.json");
    Files.writeString(catalog, new JsonObject().put("models", models).encode());
    JsonObject config = TestSupport.config(dataDir.resolve("data")).put(HoistConfig.MODELS_FILE, catalog.toString()).mergeIn(extra);
    port = await(Hoist.deploy(vertx, config)).httpPort();
  }

  private void loadAndWait(String model) throws Exception {
    String id = await(http.post(port, "127.0.0.1", "/api/llm/load").sendJsonObject(new JsonObject().put("model_name", model)))
        .bodyAsJsonObject().getString("operation_id");
    waitUntil(Duration.ofSeconds(60), () -> op(id).getString("status").matches("completed|error"));
    assertThat(op(id).getString("status")).as("%s: %s", model, op(id).getJsonArray("logs")).isEqualTo("completed");
  }

  private JsonObject op(String id) {
    return await(http.get(port, "127.0.0.1", "/api/llm/progress/" + id).send()).bodyAsJsonObject();
  }

  private JsonObject model(String name) {
    return await(http.get(port, "127.0.0.1", "/api/llm/models").send()).bodyAsJsonObject().getJsonArray("models").stream()
        .map(JsonObject.class::cast).filter(m -> name.equals(m.getString("name"))).findFirst().orElseThrow();
  }

  private boolean loaded(String name) {
    return Boolean.TRUE.equals(model(name).getBoolean("loaded"));
  }

  @Test
  void anIdleModelIsUnloadedAfterItsKeepAliveAndSubscribersAreTold() throws Exception {
    start(new JsonObject());
    List<JsonObject> events = new CopyOnWriteArrayList<>();
    WebSocket ws = await(TestSupport.webSockets(vertx).connect(port, "127.0.0.1", "/api/llm/ws"));
    ws.textMessageHandler(t -> events.add(new JsonObject(t)));
    ws.writeTextMessage(new JsonObject().put("type", "subscribe").put("operation_id", "*").encode());
    loadAndWait("demo-tiny");
    assertThat(loaded("demo-tiny")).isTrue();
    JsonObject resident = model("demo-tiny").getJsonObject("resident");
    assertThat(resident.getDouble("keep_alive_seconds")).isEqualTo(2.0);
    assertThat(resident.getBoolean("pinned")).isFalse();
    long start = System.nanoTime();
    waitUntil(Duration.ofSeconds(10), () -> !loaded("demo-tiny"));
    assertThat((System.nanoTime() - start) / 1_000_000).isGreaterThanOrEqualTo(1_000L);
    waitUntil(Duration.ofSeconds(5), () -> events.stream().anyMatch(e -> "model".equals(e.getString("type"))));
    JsonObject event = events.stream().filter(e -> "model".equals(e.getString("type"))).findFirst().orElseThrow();
    assertThat(event.getString("event")).isEqualTo("unloaded");
    assertThat(event.getString("reason")).isEqualTo("idle");
    assertThat(event.getString("repo")).isEqualTo("hoist/demo-tiny");
    assertThat(event.getLong("bytes_released")).isPositive();
  }

  @Test
  void aTouchedModelStaysAndAPinnedOneIsNeverUnloadedByKeepAlive() throws Exception {
    start(new JsonObject().put(HoistConfig.KEEP_ALIVE, "1s"));
    loadAndWait("demo-gguf");
    // Touched every 300 ms for 3 s: stays loaded although its keep-alive is 1 s.
    long until = System.nanoTime() + 3_000_000_000L;
    while (System.nanoTime() < until) {
      assertThat(await(http.post(port, "127.0.0.1", "/api/llm/models/demo-gguf/touch").send()).statusCode()).isEqualTo(200);
      assertThat(loaded("demo-gguf")).isTrue();
      Thread.sleep(300);
    }
    waitUntil(Duration.ofSeconds(10), () -> !loaded("demo-gguf"));
    assertThat(await(http.post(port, "127.0.0.1", "/api/llm/models/demo-gguf/touch").send()).statusCode()).isEqualTo(404);

    loadAndWait("tiny-pinned");
    Thread.sleep(2_500);
    assertThat(loaded("tiny-pinned")).isTrue();
    assertThat(model("tiny-pinned").getJsonObject("resident").getBoolean("pinned")).isTrue();
  }

  @Test
  void whenMemoryIsShortTheLeastRecentlyUsedUnpinnedModelIsEvicted() throws Exception {
    // demo-tiny is 16 MiB, demo-gguf 62 MiB: both do not fit under 70 MiB.
    start(new JsonObject().put(HoistConfig.MEMORY_LIMIT_MB, 70).put(HoistConfig.EVICT_FOR_MEMORY, true).put(HoistConfig.KEEP_ALIVE, "-1"));
    loadAndWait("demo-gguf");
    String id = await(http.post(port, "127.0.0.1", "/api/llm/load").sendJsonObject(new JsonObject().put("model_name", "demo-tiny")))
        .bodyAsJsonObject().getString("operation_id");
    waitUntil(Duration.ofSeconds(60), () -> op(id).getString("status").matches("completed|error"));
    JsonObject done = op(id);
    assertThat(done.getString("status")).as("logs %s", done.getJsonArray("logs")).isEqualTo("completed");
    assertThat(done.getJsonArray("logs").encode()).contains("evicting hoist/demo-gguf@");
    assertThat(loaded("demo-gguf")).isFalse();
    assertThat(loaded("demo-tiny")).isTrue();
  }

  @Test
  void aPinnedModelIsNotEvictedAndTheNewLoadFailsClearly() throws Exception {
    start(new JsonObject().put(HoistConfig.MEMORY_LIMIT_MB, 70).put(HoistConfig.EVICT_FOR_MEMORY, true));
    loadAndWait("tiny-pinned");
    String id = await(http.post(port, "127.0.0.1", "/api/llm/load").sendJsonObject(new JsonObject().put("model_name", "demo-gguf")))
        .bodyAsJsonObject().getString("operation_id");
    waitUntil(Duration.ofSeconds(60), () -> op(id).getString("status").matches("completed|error"));
    JsonObject failed = op(id);
    assertThat(failed.getString("status")).isEqualTo("error");
    assertThat(failed.getJsonObject("error").getString("code")).isEqualTo("insufficient_memory");
    assertThat(failed.getString("message")).contains("insufficient memory").contains("would not free enough");
    assertThat(loaded("tiny-pinned")).isTrue();
  }
}
