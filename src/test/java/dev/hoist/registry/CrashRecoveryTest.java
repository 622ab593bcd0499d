package dev.hoist.registry;

import static dev.hoist.support.TestSupport.await;
import static dev.hoist.support.TestSupport.waitUntil;
import static org.assertj.core.api.Assertions.assertThat;

import dev.hoist.support.TestHub;
import dev.hoist.support.TestSupport;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.client.WebClient;
import io.vertx.junit5.VertxExtension;
import java.io.File;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.HexFormat;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * Hoist in its own JVM, killed with SIGKILL in the middle of a download and started again: the
 * same operation resumes from the bytes on disk and completes, and nothing is fetched twice.
 */
@ExtendWith(VertxExtension.class)
class CrashRecoveryTest {

  @TempDir
  Path dataDir;
  @TempDir
  Path hubDir;
  private final Vertx vertx = Vertx.vertx();
  private Process hoist;

  @AfterEach
  void tearDown() throws Exception {
    if (hoist != null && hoist.isAlive()) {
      hoist.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
    }
    await(vertx.close());
  }

  @Test
  void killDashNineMidDownloadLosesNothing() throws Exception {
    Path repo = hubDir.resolve("test/crash");
    Files.createDirectories(repo);
    Path shard = TestSupport.sharedMirror().resolve("hoist/demo-sharded/model-00001-of-00004.safetensors");
    Files.copy(shard, repo.resolve("model.safetensors"));
    long size = Files.size(shard);
    String sha256 = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(shard)));
    TestHub hub = await(TestHub.start(vertx, hubDir, null));
    WebClient http = WebClient.create(vertx);
    int port = freePort();

    hoist = launch(port, hub.endpoint());
    String id = await(http.post(port, "127.0.0.1", "/api/llm/load").sendJsonObject(new JsonObject().put("model_name", "test/crash")))
        .bodyAsJsonObject().getString("operation_id");
    waitUntil(Duration.ofSeconds(30), () -> progress(http, port, id).getJsonObject("stage").getLong("bytes_done") > size / 3);
    hoist.destroyForcibly(); // SIGKILL: no shutdown hook, no flush
    assertThat(hoist.waitFor(10, TimeUnit.SECONDS)).isTrue();
    // A file larger than one chunk downloads in ranges into <sha>.ranged; a smaller one into <sha>.incomplete.
    Path blobs = dataDir.resolve("hub/models--test--crash/blobs");
    Path partial = Files.exists(blobs.resolve(sha256 + ".ranged")) ? blobs.resolve(sha256 + ".ranged") : blobs.resolve(sha256 + ".incomplete");
    assertThat(Files.exists(partial)).as("partial download kept on disk").isTrue();

    hoist = launch(port, hub.endpoint());
    JsonObject[] op = new JsonObject[1];
    waitUntil(Duration.ofSeconds(60), () -> (op[0] = progress(http, port, id)).getString("status").matches("completed|error"));
    assertThat(op[0].getString("status")).as("logs %s", op[0].getJsonArray("logs")).isEqualTo("completed");
    assertThat(op[0].getString("operation_id")).isEqualTo(id);
    assertThat(op[0].getJsonArray("logs").encode()).contains("Hoist restarted while this operation was downloading")
        .containsAnyOf("Resuming model.safetensors", "resum");
    assertThat(hub.requestedBytes()).isLessThan((long) (size * 1.2));
    Path blob = dataDir.resolve("hub/models--test--crash/blobs/" + sha256);
    assertThat(HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(blob)))).isEqualTo(sha256);
  }

  private JsonObject progress(WebClient http, int port, String id) {
    try {
      var response = http.get(port, "127.0.0.1", "/api/llm/progress/" + id).send()
          .toCompletionStage().toCompletableFuture().get(5, TimeUnit.SECONDS);
      return response.statusCode() == 200 ? response.bodyAsJsonObject()
          : new JsonObject().put("status", "unknown").put("stage", new JsonObject().put("bytes_done", 0L));
    } catch (Exception e) {
      // not up yet
      return new JsonObject().put("status", "unknown").put("stage", new JsonObject().put("bytes_done", 0L));
    }
  }

  /** Starts Hoist's main class in a new JVM with the test's classpath, configured by environment. */
  private Process launch(int port, String hubEndpoint) throws Exception {
    String java = Paths.get(System.getProperty("java.home"), "bin", "java").toString();
    ProcessBuilder pb = new ProcessBuilder(java, "-cp", System.getProperty("java.class.path"), "dev.hoist.Hoist");
    Map<String, String> env = pb.environment();
    env.put("HOIST_DATA_DIR", dataDir.toString());
    env.put("HOIST_HTTP_PORT", String.valueOf(port));
    env.put("HOIST_HTTP_HOST", "127.0.0.1");
    env.put("HF_ENDPOINT", hubEndpoint);
    env.put("HOIST_MIRROR_ENABLED", "false");
    env.put("HOIST_DOWNLOAD_MAX_BYTES_PER_SECOND", "12000000");
    pb.redirectErrorStream(true);
    pb.redirectOutput(new File(dataDir.toFile(), "hoist-" + System.nanoTime() + ".log"));
    Process p = pb.start();
    WebClient http = WebClient.create(vertx);
    waitUntil(Duration.ofSeconds(30), () -> {
      try {
        return http.get(port, "127.0.0.1", "/health").send().toCompletionStage().toCompletableFuture()
            .get(2, TimeUnit.SECONDS).statusCode() == 200;
      } catch (Exception e) {
        return false;
      }
    });
    return p;
  }

  private static int freePort() throws Exception {
    try (ServerSocket s = new ServerSocket(0)) {
      return s.getLocalPort();
    }
  }
}
