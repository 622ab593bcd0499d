package dev.hoist.gateway;

import static dev.hoist.support.TestSupport.await;
import static dev.hoist.support.TestSupport.waitUntil;
import static org.assertj.core.api.Assertions.assertThat;

import dev.hoist.Hoist;
import dev.hoist.HoistConfig;
import dev.hoist.support.TestSupport;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.WebSocket;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.client.HttpResponse;
import io.vertx.ext.web.client.WebClient;
import io.vertx.junit5.VertxExtension;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * Hoist as a user meets it: the whole service on an ephemeral port, driven over real HTTP and a
 * real WebSocket, loading the generated demo models from its own mirror.
 */
@ExtendWith(VertxExtension.class)
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class HoistEndToEndTest {

  private static final List<String> STAGE_ORDER = List.of("initializing", "downloading", "loading", "finalizing", "completed");

  @TempDir
  static Path dataDir;
  private Vertx vertx;
  private Hoist.Deployment hoist;
  private WebClient http;

  @BeforeAll
  void start() throws Exception {
    vertx = Vertx.vertx();
    JsonObject config = TestSupport.config(dataDir).put(HoistConfig.MAX_PROGRESS_ENTRIES, 12);
    hoist = await(Hoist.deploy(vertx, config));
    http = WebClient.create(vertx);
  }

  @AfterAll
  void stop() {
    await(vertx.close());
  }

  @Test
  void healthIsUpOnceEveryVerticleIsDeployed() {
    HttpResponse<Buffer> health = await(http.get(hoist.httpPort(), "127.0.0.1", "/health").send());
    assertThat(health.statusCode()).isEqualTo(200);
    assertThat(health.bodyAsJsonObject().getJsonObject("checks").getMap())
        .containsEntry("registry", "UP").containsEntry("download", "UP").containsEntry("load", "UP").containsEntry("gateway", "UP");
  }

  @Test
  void loadsDemoShardedWhileAPollerSeesMonotonicProgressThroughTheStagesInOrder() throws Exception {
    HttpResponse<Buffer> started = post("/api/llm/load", new JsonObject().put("model_name", "demo-sharded"));
    assertThat(started.statusCode()).isEqualTo(202);
    JsonObject body = started.bodyAsJsonObject();
    assertThat(body.getString("status")).isEqualTo("started");
    assertThat(body.getString("message")).isEqualTo("Model loading started for demo-sharded");
    String id = body.getString("operation_id");

    List<Integer> progress = new ArrayList<>();
    List<String> statuses = new ArrayList<>();
    JsonObject op = null;
    long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
    while (System.nanoTime() < deadline) {
      op = get("/api/llm/progress/" + id).bodyAsJsonObject();
      progress.add(op.getInteger("progress"));
      if (statuses.isEmpty() || !statuses.get(statuses.size() - 1).equals(op.getString("status"))) {
        statuses.add(op.getString("status"));
      }
      if (op.getString("status").equals("completed") || op.getString("status").equals("error")) {
        break;
      }
      Thread.sleep(10);
    }
    assertThat(op.getString("status")).as("final state, logs: %s", op.getJsonArray("logs")).isEqualTo("completed");
    assertThat(progress).isSorted();
    assertThat(progress.get(progress.size() - 1)).isEqualTo(100);
    assertThat(statuses).isSubsetOf(STAGE_ORDER);
    assertThat(statuses).isSortedAccordingTo((a, b) -> STAGE_ORDER.indexOf(a) - STAGE_ORDER.indexOf(b));
    // A poller may miss a fast stage; the operation's own timeline has every one, in order.
    List<String> timeline = op.getJsonArray("timeline").stream().map(t -> ((JsonObject) t).getString("status")).toList();
    assertThat(timeline).containsExactly("initializing", "downloading", "loading", "finalizing", "completed");

    assertThat(op.getString("commit")).matches("[0-9a-f]{40}");
    assertThat(op.getString("created_at")).endsWith("Z");
    JsonObject summary = op.getJsonObject("summary");
    assertThat(summary.getString("format")).isEqualTo("safetensors");
    assertThat(summary.getInteger("files")).isEqualTo(4);
    assertThat(summary.getLong("parameters")).isPositive();
    assertThat(summary.getLong("bytes_resident")).isGreaterThan(200L << 20);
    JsonArray files = op.getJsonArray("files");
    assertThat(files.size()).isEqualTo(op.getJsonObject("stage").getInteger("files_total"));
    for (int i = 0; i < files.size(); i++) {
      JsonObject f = files.getJsonObject(i);
      assertThat(f.getLong("bytes_done")).as(f.getString("path")).isEqualTo(f.getLong("size"));
    }
    // What was downloaded sits in the Hugging Face cache layout.
    Path snapshot = dataDir.resolve("hub/models--hoist--demo-sharded/snapshots/" + op.getString("commit"));
    assertThat(Files.isSymbolicLink(snapshot.resolve("model-00001-of-00004.safetensors"))).isTrue();
    assertThat(Files.readString(dataDir.resolve("hub/models--hoist--demo-sharded/refs/main"))).isEqualTo(op.getString("commit"));
  }

  @Test
  void aWebSocketSubscriberGetsTheSnapshotThenConsecutiveUpdatesEndingLikeRest() throws Exception {
    List<JsonObject> received = new CopyOnWriteArrayList<>();
    WebSocket ws = await(TestSupport.webSockets(vertx).connect(hoist.httpPort(), "127.0.0.1", "/api/llm/ws"));
    ws.textMessageHandler(text -> received.add(new JsonObject(text)));

    String id = post("/api/llm/load", new JsonObject().put("model_name", "demo-tiny")).bodyAsJsonObject().getString("operation_id");
    ws.writeTextMessage(new JsonObject().put("type", "subscribe").put("operation_id", id).encode());

    waitUntil(Duration.ofSeconds(60), () -> received.stream()
        .anyMatch(m -> id.equals(m.getString("operation_id")) && "completed".equals(m.getString("status"))));
    List<JsonObject> mine = new ArrayList<>();
    for (JsonObject m : received) {
      if (id.equals(m.getString("operation_id")) && m.getString("type").matches("snapshot|update")) {
        mine.add(m);
      }
    }
    assertThat(mine.get(0).getString("type")).isEqualTo("snapshot");
    for (int i = 1; i < mine.size(); i++) {
      assertThat(mine.get(i).getString("type")).isEqualTo("update");
      assertThat(mine.get(i).getLong("seq")).as("seq after %s", mine.get(i - 1).getLong("seq"))
          .isEqualTo(mine.get(i - 1).getLong("seq") + 1);
    }
    JsonObject last = mine.get(mine.size() - 1).copy();
    last.remove("type");
    JsonObject rest = get("/api/llm/progress/" + id).bodyAsJsonObject();
    assertThat(last).isEqualTo(rest);
    assertThat(received).anyMatch(m -> "subscribed".equals(m.getString("type")));
    ws.close();
  }

  @Test
  void aMalformedWebSocketMessageGetsAnErrorAndTheConnectionStaysUsable() throws Exception {
    List<JsonObject> received = new CopyOnWriteArrayList<>();
    WebSocket ws = await(TestSupport.webSockets(vertx).connect(hoist.httpPort(), "127.0.0.1", "/api/llm/ws"));
    ws.textMessageHandler(text -> received.add(new JsonObject(text)));
    ws.writeTextMessage("{not json");
    ws.writeTextMessage(new JsonObject().put("type", "dance").put("operation_id", "*").encode());
    ws.writeTextMessage(new JsonObject().put("type", "subscribe").put("operation_id", "no-such-id").encode());
    ws.writeTextMessage(new JsonObject().put("type", "subscribe").put("operation_id", "*").encode());
    waitUntil(Duration.ofSeconds(10), () -> received.stream().anyMatch(m -> "subscribed".equals(m.getString("type"))));
    List<JsonObject> errors = received.stream().filter(m -> "error".equals(m.getString("type"))).toList();
    assertThat(errors).hasSize(3);
    assertThat(errors.get(0).getJsonObject("error").getString("code")).isEqualTo("bad_request");
    assertThat(errors.get(1).getJsonObject("error").getString("message")).contains("unknown message type");
    assertThat(errors.get(2).getJsonObject("error").getString("code")).isEqualTo("not_found");
    ws.close();
  }

  @Test
  void anUnknownModelIs404AndCreatesNoOperation() {
    int before = get("/api/llm/progress").bodyAsJsonObject().getJsonArray("operations").size();
    HttpResponse<Buffer> response = post("/api/llm/load", new JsonObject().put("model_name", "no-such-model"));
    assertThat(response.statusCode()).isEqualTo(404);
    assertThat(response.bodyAsJsonObject().getJsonObject("error").getString("code")).isEqualTo("model_not_found");
    assertThat(response.bodyAsJsonObject().getJsonObject("error").getString("message")).contains("no-such-model");

    HttpResponse<Buffer> invalid = post("/api/llm/load", new JsonObject().put("model_name", "../../etc/passwd"));
    assertThat(invalid.statusCode()).isEqualTo(400);
    assertThat(invalid.bodyAsJsonObject().getJsonObject("error").getString("code")).isEqualTo("invalid_model_name");

    HttpResponse<Buffer> missing = post("/api/llm/load", new JsonObject());
    assertThat(missing.statusCode()).isEqualTo(400);
    HttpResponse<Buffer> notJson = await(http.post(hoist.httpPort(), "127.0.0.1", "/api/llm/load")
        .putHeader("Content-Type", "application/json").sendBuffer(Buffer.buffer("{oops")));
    assertThat(notJson.statusCode()).isEqualTo(400);
    assertThat(notJson.bodyAsJsonObject().getJsonObject("error").getString("message")).contains("not valid JSON");

    assertThat(get("/api/llm/progress").bodyAsJsonObject().getJsonArray("operations").size()).isEqualTo(before);
    assertThat(get("/api/llm/progress/does-not-exist").statusCode()).isEqualTo(404);
    assertThat(get("/api/llm/nothing-here").bodyAsJsonObject().getJsonObject("error").getString("code")).isEqualTo("not_found");
  }

  @Test
  void deletingAFinishedOperationClearsIt() throws Exception {
    String id = post("/api/llm/load", new JsonObject().put("model_name", "demo-tiny")).bodyAsJsonObject().getString("operation_id");
    waitUntil(Duration.ofSeconds(60), () -> "completed".equals(get("/api/llm/progress/" + id).bodyAsJsonObject().getString("status")));
    assertThat(await(http.delete(hoist.httpPort(), "127.0.0.1", "/api/llm/progress/" + id).send()).statusCode()).isEqualTo(204);
    assertThat(get("/api/llm/progress/" + id).statusCode()).isEqualTo(404);
    assertThat(await(http.delete(hoist.httpPort(), "127.0.0.1", "/api/llm/progress/" + id).send()).statusCode()).isEqualTo(404);
  }

  @Test
  void theLogKeepsAtMostMaxProgressEntriesNewestLast() throws Exception {
    String id = post("/api/llm/load", new JsonObject().put("model_name", "demo-sharded")).bodyAsJsonObject().getString("operation_id");
    waitUntil(Duration.ofSeconds(60), () -> !"downloading".equals(get("/api/llm/progress/" + id).bodyAsJsonObject().getString("status"))
        && get("/api/llm/progress/" + id).bodyAsJsonObject().getString("status").matches("completed|error"));
    JsonArray logs = get("/api/llm/progress/" + id).bodyAsJsonObject().getJsonArray("logs");
    assertThat(logs.size()).isEqualTo(12);
    assertThat(logs.getString(11)).contains("Completed in");
    assertThat(logs.getString(0)).doesNotContain("Model loading requested");
  }

  @Test
  void theModelListSaysWhatIsDownloadedAndLoaded() throws Exception {
    String id = post("/api/llm/load", new JsonObject().put("model_name", "demo-gguf")).bodyAsJsonObject().getString("operation_id");
    waitUntil(Duration.ofSeconds(60), () -> get("/api/llm/progress/" + id).bodyAsJsonObject().getString("status").matches("completed|error"));
    JsonObject op = get("/api/llm/progress/" + id).bodyAsJsonObject();
    assertThat(op.getString("status")).as("logs %s", op.getJsonArray("logs")).isEqualTo("completed");
    assertThat(op.getJsonObject("summary").getString("format")).isEqualTo("gguf");
    assertThat(op.getJsonObject("summary").getString("architecture")).isEqualTo("llama");

    JsonArray models = get("/api/llm/models").bodyAsJsonObject().getJsonArray("models");
    JsonObject gguf = find(models, "demo-gguf");
    assertThat(gguf.getBoolean("downloaded")).isTrue();
    assertThat(gguf.getBoolean("loaded")).isTrue();
    JsonObject llama = find(models, "llama3-8b");
    assertThat(llama.getBoolean("downloaded")).isFalse();
    assertThat(llama.getBoolean("loaded")).isFalse();
  }

  @Test
  void theDashboardIsServedAtTheRoot() {
    HttpResponse<Buffer> page = get("/");
    assertThat(page.statusCode()).isEqualTo(200);
    assertThat(page.bodyAsString()).contains("Hoist");
  }

  private static JsonObject find(JsonArray models, String name) {
    for (int i = 0; i < models.size(); i++) {
      if (name.equals(models.getJsonObject(i).getString("name"))) {
        return models.getJsonObject(i);
      }
    }
    throw new AssertionError("no model " + name + " in " + models.encode());
  }

  private HttpResponse<Buffer> post(String path, JsonObject body) {
    return await(http.post(hoist.httpPort(), "127.0.0.1", path).sendJsonObject(body));
  }

  private HttpResponse<Buffer> get(String path) {
    return await(http.get(hoist.httpPort(), "127.0.0.1", path).send());
  }
}
