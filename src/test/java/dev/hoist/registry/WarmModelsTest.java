package dev.hoist.registry;

import static dev.hoist.support.TestSupport.await;
import static dev.hoist.support.TestSupport.waitUntil;
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
import io.vertx.junit5.VertxExtension;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/** Models ready before they are asked for: preloads at startup and cron schedules that persist. */
@ExtendWith(VertxExtension.class)
class WarmModelsTest {

  @TempDir
  Path dataDir;
  private Vertx vertx;
  private WebClient http;
  private Hoist.Deployment hoist;

  @BeforeEach
  void setUp() {
    vertx = Vertx.vertx();
    http = WebClient.create(vertx);
  }

  @AfterEach
  void tearDown() {
    await(vertx.close());
  }

  private List<JsonObject> operations() {
    return await(http.get(hoist.httpPort(), "127.0.0.1", "/api/llm/progress").send()).bodyAsJsonObject()
        .getJsonArray("operations").stream().map(JsonObject.class::cast).collect(Collectors.toList());
  }

  private HttpResponse<Buffer> addSchedule(JsonObject body) {
    return await(http.post(hoist.httpPort(), "127.0.0.1", "/api/llm/schedules").sendJsonObject(body));
  }

  private JsonArray schedules() {
    return await(http.get(hoist.httpPort(), "127.0.0.1", "/api/llm/schedules").send()).bodyAsJsonObject().getJsonArray("schedules");
  }

  @Test
  void aConfiguredPreloadRunsAtStartupAsAnOrdinaryOperation() throws Exception {
    hoist = await(Hoist.deploy(vertx, TestSupport.config(dataDir).put(HoistConfig.PRELOAD, new JsonArray().add("demo-tiny")
        .add(new JsonObject().put("model_name", "demo-gguf").put("priority", 3)))));
    waitUntil(Duration.ofSeconds(60), () -> operations().stream().filter(o -> "completed".equals(o.getString("status"))).count() == 2);
    List<JsonObject> ops = operations();
    assertThat(ops).allMatch(o -> "preload".equals(o.getString("origin")));
    assertThat(ops).anyMatch(o -> "demo-gguf".equals(o.getString("model_name")) && o.getInteger("priority") == 3);
  }

  @Test
  void aScheduleFiresItsLoadsAndSurvivesARestart() throws Exception {
    hoist = await(Hoist.deploy(vertx, TestSupport.config(dataDir)));
    HttpResponse<Buffer> created = addSchedule(new JsonObject().put("model_name", "demo-tiny").put("cron", "*/2 * * * * *"));
    assertThat(created.statusCode()).as(created.bodyAsString()).isEqualTo(201);
    String id = created.bodyAsJsonObject().getString("id");
    assertThat(created.bodyAsJsonObject().getString("next_run")).isNotNull();
    assertThat(schedules().getJsonObject(0).getString("id")).isEqualTo(id);

    waitUntil(Duration.ofSeconds(30), () -> operations().stream()
        .filter(o -> ("schedule:" + id).equals(o.getString("origin")) && "completed".equals(o.getString("status"))).count() >= 2);
    assertThat(schedules().getJsonObject(0).getString("last_operation_id")).isNotNull();

    await(hoist.undeploy());
    hoist = await(Hoist.deploy(vertx, TestSupport.config(dataDir)));
    JsonArray after = schedules();
    assertThat(after.size()).isEqualTo(1);
    assertThat(after.getJsonObject(0).getString("id")).isEqualTo(id);
    assertThat(after.getJsonObject(0).getString("cron")).isEqualTo("*/2 * * * * *");

    assertThat(await(http.delete(hoist.httpPort(), "127.0.0.1", "/api/llm/schedules/" + id).send()).statusCode()).isEqualTo(204);
    assertThat(schedules()).isEmpty();
    assertThat(await(http.delete(hoist.httpPort(), "127.0.0.1", "/api/llm/schedules/" + id).send()).statusCode()).isEqualTo(404);
  }

  @Test
  void aRefreshScheduleOnlyBringsTheFilesUpToDate() throws Exception {
    hoist = await(Hoist.deploy(vertx, TestSupport.config(dataDir)));
    String id = addSchedule(new JsonObject().put("model_name", "demo-gguf").put("cron", "* * * * * *").put("action", "refresh"))
        .bodyAsJsonObject().getString("id");
    waitUntil(Duration.ofSeconds(30), () -> operations().stream().anyMatch(o -> "completed".equals(o.getString("status"))));
    JsonObject refresh = operations().stream().filter(o -> "completed".equals(o.getString("status"))).findFirst().orElseThrow();
    assertThat(refresh.getBoolean("download_only")).isTrue();
    assertThat(refresh.getString("origin")).isEqualTo("schedule:" + id);
    assertThat(refresh.getValue("summary")).isNull();
    assertThat(refresh.getJsonArray("timeline").stream().map(t -> ((JsonObject) t).getString("status")))
        .containsExactly("initializing", "downloading", "completed");
    JsonArray models = await(http.get(hoist.httpPort(), "127.0.0.1", "/api/llm/models").send()).bodyAsJsonObject().getJsonArray("models");
    JsonObject gguf = models.stream().map(JsonObject.class::cast).filter(m -> "demo-gguf".equals(m.getString("name"))).findFirst().orElseThrow();
    assertThat(gguf.getBoolean("downloaded")).isTrue();
    assertThat(gguf.getBoolean("loaded")).isFalse();
  }

  @Test
  void badSchedulesAreRefusedWithAClearError() throws Exception {
    hoist = await(Hoist.deploy(vertx, TestSupport.config(dataDir)));
    HttpResponse<Buffer> badCron = addSchedule(new JsonObject().put("model_name", "demo-tiny").put("cron", "every morning"));
    assertThat(badCron.statusCode()).isEqualTo(400);
    assertThat(badCron.bodyAsJsonObject().getJsonObject("error").getString("message")).contains("cron");
    assertThat(addSchedule(new JsonObject().put("model_name", "nope").put("cron", "0 7 * * 1-5")).statusCode()).isEqualTo(404);
    assertThat(addSchedule(new JsonObject().put("model_name", "demo-tiny").put("cron", "0 7 * * 1-5").put("action", "dance")).statusCode())
        .isEqualTo(400);
    assertThat(schedules()).isEmpty();
    HttpResponse<Buffer> weekday = addSchedule(new JsonObject().put("model_name", "phi3").put("cron", "30 7 * * 1-5"));
    assertThat(weekday.statusCode()).isEqualTo(201);
    assertThat(weekday.bodyAsJsonObject().getString("next_run")).isNotNull();
  }
}
