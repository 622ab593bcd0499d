package dev.hoist.load;

import static dev.hoist.support.TestSupport.await;
import static dev.hoist.support.TestSupport.waitUntil;
import static org.assertj.core.api.Assertions.assertThat;

import dev.hoist.Hoist;
import dev.hoist.HoistConfig;
import dev.hoist.support.TestSupport;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.client.WebClient;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The whole service with a memory cap: a model too big for it fails its memory check with a clear,
 * final error and keeps its downloaded files, while a small model loading at the same time is loaded.
 */
class MemoryCheckBesideHealthyTest {

  @TempDir
  Path dataDir;
  private final Vertx vertx = Vertx.vertx();

  @AfterEach
  void tearDown() {
    await(vertx.close());
  }

  @Test
  void aModelTooBigForTheCapFailsAndAModelBesideItLoads() throws Exception {
    JsonObject config = TestSupport.config(dataDir).put(HoistConfig.MEMORY_LIMIT_MB, 64);
    int port = await(Hoist.deploy(vertx, config)).httpPort();
    WebClient http = WebClient.create(vertx);

    String big = start(http, port, "demo-sharded");
    String small = start(http, port, "demo-tiny");
    JsonObject bigEnd = waitForEnd(http, port, big);
    JsonObject smallEnd = waitForEnd(http, port, small);

    assertThat(bigEnd.getString("status")).isEqualTo("error");
    assertThat(bigEnd.getJsonObject("error").getString("code")).isEqualTo("insufficient_memory");
    assertThat(bigEnd.getJsonObject("error").getBoolean("retryable")).isFalse();
    assertThat(bigEnd.getString("message")).startsWith("insufficient memory: model needs 257.6 MiB, ");
    assertThat(smallEnd.getString("status")).as("logs %s", smallEnd.getJsonArray("logs")).isEqualTo("completed");

    // The big model's files stay downloaded (a retry with more memory does not fetch them again); only the small one is in memory.
    JsonObject models = await(http.get(port, "127.0.0.1", "/api/llm/models").send()).bodyAsJsonObject();
    JsonObject sharded = model(models, "demo-sharded");
    JsonObject tiny = model(models, "demo-tiny");
    assertThat(sharded.getBoolean("downloaded")).isTrue();
    assertThat(sharded.getBoolean("loaded")).isFalse();
    assertThat(tiny.getBoolean("loaded")).isTrue();
  }

  private static String start(WebClient http, int port, String model) {
    var response = await(http.post(port, "127.0.0.1", "/api/llm/load").sendJsonObject(new JsonObject().put("model_name", model)));
    assertThat(response.statusCode()).isEqualTo(202);
    return response.bodyAsJsonObject().getString("operation_id");
  }

  private static JsonObject waitForEnd(WebClient http, int port, String id) throws InterruptedException {
    JsonObject[] op = new JsonObject[1];
    waitUntil(Duration.ofSeconds(60), () -> (op[0] = await(http.get(port, "127.0.0.1", "/api/llm/progress/" + id).send())
        .bodyAsJsonObject()).getString("status").matches("completed|error|cancelled"));
    return op[0];
  }

  private static JsonObject model(JsonObject models, String name) {
    return models.getJsonArray("models").stream().map(o -> (JsonObject) o)
        .filter(m -> name.equals(m.getString("name"))).findFirst().orElseThrow();
  }
}
