package dev.hoist.registry;

import static dev.hoist.support.TestSupport.await;
import static dev.hoist.support.TestSupport.waitUntil;
import static org.assertj.core.api.Assertions.assertThat;

import dev.hoist.Hoist;
import dev.hoist.HoistConfig;
import dev.hoist.support.TestHub;
import dev.hoist.support.TestSupport;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpServer;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.client.HttpResponse;
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

/**
 * Operations that are never lost, over real HTTP: the queue, cancel, retry under the same id,
 * joining a running load, time limits, webhooks, history and statistics, and restarts.
 */
@ExtendWith(VertxExtension.class)
class OperationsLifecycleTest {

  @TempDir
  Path dataDir;
  @TempDir
  Path hubDir;
  private Vertx vertx;
  private WebClient http;
  private TestHub hub;
  private Hoist.Deployment hoist;

  @BeforeEach
  void setUp() throws Exception {
    vertx = Vertx.vertx();
    http = WebClient.create(vertx);
    hub = await(TestHub.start(vertx, hubDir, null));
  }

  @AfterEach
  void tearDown() {
    await(vertx.close());
  }

  private JsonObject config() throws Exception {
    return TestSupport.config(dataDir).put(HoistConfig.HF_ENDPOINT, hub.endpoint());
  }

  private void start(JsonObject config) {
    hoist = await(Hoist.deploy(vertx, config));
  }

  /** A test repo with a model of {@code mib} MiB (real safetensors, copied from demo-tiny's layout). */
  private void repo(String repo) throws Exception {
    Path dir = hubDir.resolve(repo);
    Files.createDirectories(dir);
    Path tiny = TestSupport.sharedMirror().resolve("hoist/demo-tiny");
    Files.copy(tiny.resolve("model.safetensors"), dir.resolve("model.safetensors"));
    Files.copy(tiny.resolve("config.json"), dir.resolve("config.json"));
  }

  private HttpResponse<Buffer> post(String path, JsonObject body) {
    return await(http.post(hoist.httpPort(), "127.0.0.1", path).sendJsonObject(body));
  }

  private HttpResponse<Buffer> postEmpty(String path) {
    return await(http.post(hoist.httpPort(), "127.0.0.1", path).send());
  }

  private JsonObject op(String id) {
    return await(http.get(hoist.httpPort(), "127.0.0.1", "/api/llm/progress/" + id).send()).bodyAsJsonObject();
  }

  private String load(String model) {
    HttpResponse<Buffer> r = post("/api/llm/load", new JsonObject().put("model_name", model));
    assertThat(r.statusCode()).as(r.bodyAsString()).isEqualTo(202);
    return r.bodyAsJsonObject().getString("operation_id");
  }

  private JsonObject waitFor(String id, String statusRegex) throws Exception {
    JsonObject[] last = new JsonObject[1];
    waitUntil(Duration.ofSeconds(60), () -> (last[0] = op(id)).getString("status").matches(statusRegex));
    return last[0];
  }

  @Test
  void operationsBeyondTheLimitQueueInPriorityOrderWithTheirPositions() throws Exception {
    start(TestSupport.config(dataDir).put(HoistConfig.MAX_CONCURRENT, 1)
        .put(HoistConfig.DOWNLOAD_MAX_BYTES_PER_SECOND, 8_000_000));
    String first = load("demo-tiny");
    String second = load("demo-gguf");
    HttpResponse<Buffer> urgent = post("/api/llm/load", new JsonObject().put("model_name", "demo-sharded").put("priority", 5));
    String third = urgent.bodyAsJsonObject().getString("operation_id");

    assertThat(op(first).getString("status")).isNotEqualTo("queued");
    JsonObject queuedUrgent = op(third);
    assertThat(queuedUrgent.getString("status")).isEqualTo("queued");
    assertThat(queuedUrgent.getInteger("queue_position")).isEqualTo(1);
    assertThat(queuedUrgent.getInteger("progress")).isZero();
    assertThat(op(second).getInteger("queue_position")).isEqualTo(2);

    // Cancelling a queued operation ends it at once; the others move up.
    assertThat(postEmpty("/api/llm/progress/" + second + "/cancel").statusCode()).isEqualTo(200);
    assertThat(op(second).getString("status")).isEqualTo("cancelled");
    assertThat(postEmpty("/api/llm/progress/" + second + "/cancel").statusCode()).isEqualTo(409);

    waitFor(first, "completed");
    JsonObject next = waitFor(third, "initializing|downloading|loading|finalizing|completed");
    assertThat(next.getValue("queue_position")).isNull();
    assertThat(postEmpty("/api/llm/progress/" + third + "/cancel").statusCode()).isEqualTo(200);
  }

  @Test
  void aSecondRequestForTheSameModelJoinsTheRunningOperation() throws Exception {
    start(TestSupport.config(dataDir).put(HoistConfig.DOWNLOAD_MAX_BYTES_PER_SECOND, 8_000_000));
    String id = load("demo-tiny");
    HttpResponse<Buffer> again = post("/api/llm/load", new JsonObject().put("model_name", "demo-tiny"));
    assertThat(again.statusCode()).isEqualTo(202);
    assertThat(again.bodyAsJsonObject().getString("operation_id")).isEqualTo(id);
    assertThat(again.bodyAsJsonObject().getString("status")).isEqualTo("joined");
    assertThat(again.bodyAsJsonObject().getString("message")).contains("joined");
    JsonArray all = await(http.get(hoist.httpPort(), "127.0.0.1", "/api/llm/progress").send()).bodyAsJsonObject().getJsonArray("operations");
    assertThat(all.size()).isEqualTo(1);
    waitFor(id, "completed");
    // Once it is finished, a new request is a new operation.
    assertThat(load("demo-tiny")).isNotEqualTo(id);
  }

  @Test
  void retryRestartsAFailedOperationUnderTheSameIdKeepingItsLogs() throws Exception {
    start(config());
    String id = load("test/late");
    JsonObject failed = waitFor(id, "error");
    assertThat(failed.getJsonObject("error").getString("code")).isEqualTo("model_not_found");
    assertThat(postEmpty("/api/llm/progress/" + id + "/retry").statusCode()).isEqualTo(202);
    // Meanwhile the repo appeared on the hub: the retry finds it.
    repo("test/late");
    // The first retry may still race the repo's creation; retry until it completes, like a user would.
    JsonObject done = waitFor(id, "completed|error");
    if (done.getString("status").equals("error")) {
      assertThat(postEmpty("/api/llm/progress/" + id + "/retry").statusCode()).isEqualTo(202);
      done = waitFor(id, "completed");
    }
    assertThat(done.getString("operation_id")).isEqualTo(id);
    assertThat(done.getInteger("attempt")).isGreaterThanOrEqualTo(2);
    String logs = done.getJsonArray("logs").encode();
    assertThat(logs).contains("was not found on the hub").contains("Retry requested: attempt 2");
    assertThat(done.getValue("error")).isNull();
    assertThat(postEmpty("/api/llm/progress/" + id + "/retry").statusCode()).isEqualTo(409);
    assertThat(postEmpty("/api/llm/progress/nope/retry").statusCode()).isEqualTo(404);
  }

  @Test
  void anOperationPastItsTimeLimitFailsAsTimedOutAndRetryable() throws Exception {
    start(TestSupport.config(dataDir).put(HoistConfig.TIMEOUT_SMALL_SECONDS, 1)
        .put(HoistConfig.DOWNLOAD_MAX_BYTES_PER_SECOND, 2_000_000));
    String id = load("demo-tiny");
    JsonObject failed = waitFor(id, "error");
    assertThat(failed.getJsonObject("error").getString("code")).isEqualTo("timed_out");
    assertThat(failed.getJsonObject("error").getBoolean("retryable")).isTrue();
    assertThat(failed.getString("message")).contains("timed out after 1.0 s");
  }

  @Test
  void webhooksHearOfCompletionAndFailure() throws Exception {
    List<JsonObject> calls = new CopyOnWriteArrayList<>();
    HttpServer receiver = await(vertx.createHttpServer().requestHandler(req -> req.body().onSuccess(body -> {
      calls.add(body.toJsonObject().put("header", req.getHeader("X-Hoist-Event")));
      // The first call fails, to prove retries.
      req.response().setStatusCode(calls.size() == 1 ? 500 : 204).end();
    })).listen(0, "127.0.0.1"));
    start(config().put(HoistConfig.WEBHOOKS, new JsonArray().add("http://127.0.0.1:" + receiver.actualPort() + "/hook"))
        .put(HoistConfig.WEBHOOK_RETRY_BASE_MS, 10));
    String ok = load("demo-tiny");
    waitFor(ok, "completed");
    String bad = load("test/absent");
    waitFor(bad, "error");
    waitUntil(Duration.ofSeconds(10), () -> calls.stream().filter(c -> "error".equals(c.getString("event"))).count() == 1);
    List<JsonObject> completed = calls.stream().filter(c -> "completed".equals(c.getString("event"))).toList();
    assertThat(completed).hasSize(2); // the failed delivery and its retry
    assertThat(completed.get(1).getString("header")).isEqualTo("completed");
    assertThat(completed.get(1).getJsonObject("operation").getString("operation_id")).isEqualTo(ok);
    assertThat(calls.stream().filter(c -> "error".equals(c.getString("event"))).findFirst().orElseThrow()
        .getJsonObject("operation").getJsonObject("error").getString("code")).isEqualTo("model_not_found");
  }

  @Test
  void historyAndStatsOutliveTheLiveList() throws Exception {
    start(config().put(HoistConfig.PROGRESS_CLEANUP_INTERVAL, 1));
    String ok = load("demo-tiny");
    waitFor(ok, "completed");
    String bad = load("test/absent");
    waitFor(bad, "error");
    // Cleanup drops them from the live list...
    waitUntil(Duration.ofSeconds(10), () -> await(http.get(hoist.httpPort(), "127.0.0.1", "/api/llm/progress/" + ok).send()).statusCode() == 404);
    // ...but history keeps them.
    JsonArray history = await(http.get(hoist.httpPort(), "127.0.0.1", "/api/llm/history?model=demo-tiny&limit=10").send())
        .bodyAsJsonObject().getJsonArray("operations");
    assertThat(history.size()).isEqualTo(1);
    assertThat(history.getJsonObject(0).getString("operation_id")).isEqualTo(ok);
    assertThat(history.getJsonObject(0).getJsonArray("timeline").encode()).contains("downloading").contains("completed");
    assertThat(history.getJsonObject(0).containsKey("internal")).isFalse();
    JsonArray errors = await(http.get(hoist.httpPort(), "127.0.0.1", "/api/llm/history?status=error").send())
        .bodyAsJsonObject().getJsonArray("operations");
    assertThat(errors.size()).isEqualTo(1);
    assertThat(await(http.get(hoist.httpPort(), "127.0.0.1", "/api/llm/history?status=bogus").send()).statusCode()).isEqualTo(400);

    JsonArray stats = await(http.get(hoist.httpPort(), "127.0.0.1", "/api/llm/stats").send()).bodyAsJsonObject().getJsonArray("models");
    JsonObject tiny = stats.stream().map(JsonObject.class::cast).filter(m -> "demo-tiny".equals(m.getString("model_name"))).findFirst().orElseThrow();
    assertThat(tiny.getInteger("loads")).isEqualTo(1);
    assertThat(tiny.getDouble("success_rate")).isEqualTo(1.0);
    assertThat(tiny.getDouble("median_download_seconds")).isNotNull();
    assertThat(tiny.getDouble("median_load_seconds")).isNotNull();
    assertThat(tiny.getLong("average_bytes_per_second")).isPositive();
    JsonObject absent = stats.stream().map(JsonObject.class::cast).filter(m -> "test/absent".equals(m.getString("model_name"))).findFirst().orElseThrow();
    assertThat(absent.getDouble("success_rate")).isEqualTo(0.0);
  }

  @Test
  void theDatabaseSurvivesARestartAndARunningDownloadResumesUnderTheSameId() throws Exception {
    repo("test/restart");
    long size = Files.size(hubDir.resolve("test/restart/model.safetensors"));
    start(config().put(HoistConfig.DOWNLOAD_MAX_BYTES_PER_SECOND, 8_000_000));
    String finished = load("demo-tiny");
    JsonObject before = waitFor(finished, "completed");
    String running = load("test/restart");
    waitUntil(Duration.ofSeconds(30), () -> op(running).getJsonObject("stage").getLong("bytes_done") > size / 4);
    // While it runs, the machine's resources are sampled into its stage detail.
    waitUntil(Duration.ofSeconds(5), () -> op(running).getJsonObject("stage").getJsonObject("resources") != null);
    JsonObject resources = op(running).getJsonObject("stage").getJsonObject("resources");
    assertThat(resources.getLong("memory_available_bytes")).isPositive();
    assertThat(resources.getLong("disk_free_bytes")).isPositive();
    assertThat(resources.getLong("heap_used_bytes")).isPositive();

    // Stop Hoist mid-download (the hub stays up), then start a new one on the same data dir.
    await(hoist.undeploy());
    start(config());
    JsonObject after = op(finished);
    assertThat(after.getString("status")).isEqualTo("completed");
    assertThat(after.getJsonArray("logs")).isEqualTo(before.getJsonArray("logs"));
    assertThat(after.getJsonObject("summary")).isEqualTo(before.getJsonObject("summary"));

    JsonObject resumed = waitFor(running, "completed");
    assertThat(resumed.getJsonArray("logs").encode()).contains("Hoist restarted while this operation was downloading")
        .contains("Resuming model.safetensors");
    assertThat(hub.requestedBytes()).isLessThan((long) (size * 1.2));
  }
}
