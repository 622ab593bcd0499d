package dev.hoist.support;

import dev.hoist.HoistConfig;
import dev.hoist.mirror.DemoModels;
import io.vertx.core.Future;
import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

/** Shared pieces of the tests: a config on port 0 with a temp data dir, and one set of demo models. */
public final class TestSupport {

  /** Generated once per build and shared by every test, so each test does not write 336 MiB. */
  public static final Path SHARED_MIRROR = Paths.get("target", "test-mirror").toAbsolutePath();

  private TestSupport() {
  }

  public static synchronized Path sharedMirror() throws IOException {
    DemoModels.ensure(SHARED_MIRROR);
    return SHARED_MIRROR;
  }

  /** Hoist on an ephemeral port with its own data dir, serving the shared demo models. */
  public static JsonObject config(Path dataDir) throws IOException {
    return new JsonObject()
        .put(HoistConfig.DATA_DIR, dataDir.toString())
        .put(HoistConfig.HTTP_PORT, 0)
        .put(HoistConfig.HTTP_HOST, "127.0.0.1")
        .put(HoistConfig.HF_ENDPOINT, "http://127.0.0.1:9/unreachable")
        .put(HoistConfig.MIRROR_DIR, sharedMirror().toString())
        .put(HoistConfig.MIRROR_DEMO_MODELS, false)
        .put(HoistConfig.PROGRESS_INTERVAL_MS, 50)
        .put(HoistConfig.DOWNLOAD_RETRY_BASE_MS, 20)
        .put(HoistConfig.MODELS_FILE, "conf/models.json")
        .put(HoistConfig.WEBROOT, "webroot");
  }

  private static final java.util.Map<io.vertx.core.Vertx, io.vertx.core.http.WebSocketClient> WEB_SOCKET_CLIENTS =
      new java.util.concurrent.ConcurrentHashMap<>();

  /**
   * One WebSocket client per Vert.x instance, kept for the whole run: a Vert.x 5 client that becomes
   * unreachable is closed by a cleaner, and its sockets with it (close 1000 in the middle of a test).
   */
  public static io.vertx.core.http.WebSocketClient webSockets(io.vertx.core.Vertx vertx) {
    return WEB_SOCKET_CLIENTS.computeIfAbsent(vertx, io.vertx.core.Vertx::createWebSocketClient);
  }

  public static <T> T await(Future<T> future) {
    try {
      return future.toCompletionStage().toCompletableFuture().get(60, TimeUnit.SECONDS);
    } catch (Exception e) {
      throw new AssertionError("future failed: " + e.getMessage(), e);
    }
  }

  public static void waitUntil(Duration timeout, java.util.function.BooleanSupplier condition) throws InterruptedException {
    long end = System.nanoTime() + timeout.toNanos();
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > end) {
        throw new AssertionError("condition not met within " + timeout);
      }
      Thread.sleep(20);
    }
  }

  public static void deleteRecursively(Path dir) throws IOException {
    if (Files.exists(dir)) {
      try (var walk = Files.walk(dir)) {
        walk.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
      }
    }
  }
}
