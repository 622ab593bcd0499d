package dev.hoist.gateway;

import static dev.hoist.support.TestSupport.await;
import static dev.hoist.support.TestSupport.waitUntil;
import static org.assertj.core.api.Assertions.assertThat;

import dev.hoist.Hoist;
import dev.hoist.HoistConfig;
import dev.hoist.support.TestSupport;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.client.HttpResponse;
import io.vertx.ext.web.client.WebClient;
import io.vertx.junit5.VertxExtension;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/** {@code /metrics} in Prometheus text format, and {@code /ready}'s checks. */
@ExtendWith(VertxExtension.class)
class ObservabilityTest {

  private static final Pattern SAMPLE = Pattern.compile("([a-zA-Z_:][a-zA-Z0-9_:]*)(\\{[^}]*\\})? (-?[0-9.eE+-]+|NaN|[+-]Inf)( [0-9]+)?");

  @TempDir
  Path dataDir;
  private Vertx vertx;

  @AfterEach
  void tearDown() {
    if (vertx != null) {
      await(vertx.close());
    }
  }

  @Test
  void metricsParseAsPrometheusTextAndMoveAfterALoad() throws Exception {
    vertx = Hoist.newVertx();
    Hoist.Deployment hoist = await(Hoist.deploy(vertx, TestSupport.config(dataDir).put(HoistConfig.OFFLINE, true)));
    WebClient http = WebClient.create(vertx);
    Map<String, Double> before = scrape(http, hoist.httpPort());
    String id = await(http.post(hoist.httpPort(), "127.0.0.1", "/api/llm/load").sendJsonObject(new JsonObject().put("model_name", "demo-tiny")))
        .bodyAsJsonObject().getString("operation_id");
    waitUntil(Duration.ofSeconds(30), () -> "completed".equals(await(http.get(hoist.httpPort(), "127.0.0.1", "/api/llm/progress/" + id).send())
        .bodyAsJsonObject().getString("status")));
    waitUntil(Duration.ofSeconds(5), () -> scrape(http, hoist.httpPort()).getOrDefault("hoist_operations_finished_total{status=\"completed\"}", 0.0) == 1.0);
    Map<String, Double> after = scrape(http, hoist.httpPort());

    assertThat(after.get("hoist_downloaded_bytes_total")).isGreaterThan(before.getOrDefault("hoist_downloaded_bytes_total", 0.0) + 10_000_000);
    assertThat(after.get("hoist_operations{status=\"completed\"}")).isEqualTo(1.0);
    assertThat(after.get("hoist_download_duration_seconds_count")).isEqualTo(1.0);
    assertThat(after.get("hoist_load_duration_seconds_count")).isEqualTo(1.0);
    assertThat(after).containsKey("hoist_websocket_connections");
    // Vert.x's own metrics are there too: HTTP server requests and the event bus.
    assertThat(after.keySet()).anyMatch(k -> k.startsWith("vertx_http_server_requests_total"));
    assertThat(after.keySet()).anyMatch(k -> k.startsWith("vertx_eventbus_"));
  }

  @Test
  void readyFailsWhenTheDataDirIsNotWritableOrTheHubIsUnreachable() throws Exception {
    vertx = Vertx.vertx();
    Hoist.Deployment hoist = await(Hoist.deploy(vertx, TestSupport.config(dataDir)));
    WebClient http = WebClient.create(vertx);
    HttpResponse<Buffer> ready = await(http.get(hoist.httpPort(), "127.0.0.1", "/ready").send());
    // TestSupport points HF_ENDPOINT at a closed port: not ready, and it says why.
    assertThat(ready.statusCode()).isEqualTo(503);
    JsonObject body = ready.bodyAsJsonObject();
    assertThat(body.encode()).contains("hub").contains("HOIST_OFFLINE");
    assertThat(checkStatus(body, "verticles")).isEqualTo("UP");
    assertThat(checkStatus(body, "data-dir")).isEqualTo("UP");
    assertThat(checkStatus(body, "hub")).isEqualTo("DOWN");
    await(vertx.close());

    vertx = Vertx.vertx();
    Path data = dataDir.resolve("offline");
    hoist = await(Hoist.deploy(vertx, TestSupport.config(data).put(HoistConfig.OFFLINE, true)));
    http = WebClient.create(vertx);
    assertThat(await(http.get(hoist.httpPort(), "127.0.0.1", "/ready").send()).statusCode()).isEqualTo(200);
    // The data dir goes away and a file takes its place: nothing can be written any more.
    TestSupport.deleteRecursively(data);
    Files.writeString(data, "not a directory");
    HttpResponse<Buffer> notReady = await(http.get(hoist.httpPort(), "127.0.0.1", "/ready").send());
    assertThat(notReady.statusCode()).isEqualTo(503);
    assertThat(checkStatus(notReady.bodyAsJsonObject(), "data-dir")).isEqualTo("DOWN");
    // Liveness is about the verticles only.
    assertThat(await(http.get(hoist.httpPort(), "127.0.0.1", "/health").send()).statusCode()).isEqualTo(200);
  }

  private static String checkStatus(JsonObject ready, String name) {
    return ready.getJsonArray("checks").stream().map(JsonObject.class::cast)
        .filter(c -> name.equals(c.getString("id"))).findFirst().orElseThrow().getString("status");
  }

  /** Parses the exposition format strictly enough that a malformed line fails the test. */
  private static Map<String, Double> scrape(WebClient http, int port) {
    HttpResponse<Buffer> response = await(http.get(port, "127.0.0.1", "/metrics").send());
    assertThat(response.statusCode()).isEqualTo(200);
    assertThat(response.getHeader("Content-Type")).startsWith("text/plain");
    Map<String, Double> samples = new HashMap<>();
    for (String line : response.bodyAsString().split("\n")) {
      if (line.isBlank() || line.startsWith("# HELP ") || line.startsWith("# TYPE ")) {
        continue;
      }
      Matcher m = SAMPLE.matcher(line);
      assertThat(m.matches()).as("Prometheus sample line: %s", line).isTrue();
      samples.put(m.group(1) + (m.group(2) == null ? "" : m.group(2)), Double.parseDouble(m.group(3).replace("+Inf", "Infinity").replace("-Inf", "-Infinity")));
    }
    return samples;
  }
}
