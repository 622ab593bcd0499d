package dev.hoist.load;

import static dev.hoist.contract.EventBusContract.*;
import static dev.hoist.support.TestSupport.await;

import io.vertx.core.DeploymentOptions;
import io.vertx.core.Vertx;
import io.vertx.core.eventbus.DeliveryOptions;
import io.vertx.core.eventbus.Message;
import io.vertx.core.eventbus.ReplyException;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * The load verticle on its own, in its own Vert.x, driven over the event bus the way the registry
 * drives it: {@code hoist.load.start} with files on disk, and every {@code hoist.ops.report} it
 * sends recorded per operation.
 */
final class LoadStage implements AutoCloseable {

  final Vertx vertx;
  private final Map<String, List<JsonObject>> reports = new ConcurrentHashMap<>();

  private LoadStage(Vertx vertx) {
    this.vertx = vertx;
  }

  static LoadStage deploy(JsonObject config) {
    LoadStage stage = new LoadStage(Vertx.vertx());
    await(stage.vertx.eventBus().<JsonObject>consumer(OPS_REPORT, m -> stage.reports
        .computeIfAbsent(m.body().getString(OPERATION_ID), k -> new CopyOnWriteArrayList<>()).add(m.body())).completion());
    await(stage.vertx.deployVerticle(new LoadVerticle(), new DeploymentOptions().setConfig(config)));
    return stage;
  }

  /** Starts loading {@code files} (their names in the "repo" are their file names) as {@code repo}. */
  String start(String repo, List<Path> files, JsonObject nativeService) throws IOException {
    String opId = UUID.randomUUID().toString();
    JsonArray list = new JsonArray();
    for (Path f : files) {
      list.add(new JsonObject().put(PATH, f.getFileName().toString()).put(SIZE, Files.size(f)).put(LOCAL_PATH, f.toString()));
    }
    JsonObject command = new JsonObject().put(OPERATION_ID, opId).put(ATTEMPT, 1).put(REPO, repo)
        .put(COMMIT, "0123456789abcdef0123456789abcdef01234567").put(MODEL_KEY, repo + "@0123456789abcdef0123456789abcdef01234567")
        .put(SNAPSHOT_DIR, files.get(0).getParent().toString()).put(FILES, list);
    if (nativeService != null) {
      command.put(NATIVE, nativeService);
    }
    JsonObject reply = request(LOAD_START, command);
    if (!reply.getBoolean(ACCEPTED, false)) {
      throw new AssertionError("not accepted: " + reply);
    }
    return opId;
  }

  List<JsonObject> reports(String opId) {
    return reports.getOrDefault(opId, List.of());
  }

  /** The completed or failed report, waiting up to {@code timeout}. */
  JsonObject awaitEnd(String opId, Duration timeout) throws InterruptedException {
    long end = System.nanoTime() + timeout.toNanos();
    while (System.nanoTime() < end) {
      for (JsonObject r : reports(opId)) {
        if (!KIND_PROGRESS.equals(r.getString(KIND))) {
          return r;
        }
      }
      Thread.sleep(10);
    }
    throw new AssertionError("no completed/failed report within " + timeout + "; reports: " + reports(opId));
  }

  /** The completed report's result; fails the test with the error of a failed one. */
  JsonObject awaitCompleted(String opId) throws InterruptedException {
    JsonObject end = awaitEnd(opId, Duration.ofSeconds(30));
    if (!KIND_COMPLETED.equals(end.getString(KIND))) {
      throw new AssertionError("load failed: " + end.getJsonObject(ERROR) + "; logs: " + logs(opId));
    }
    return end.getJsonObject(RESULT);
  }

  List<String> logs(String opId) {
    List<String> out = new ArrayList<>();
    reports(opId).stream().filter(r -> r.getString(LOG) != null).forEach(r -> out.add(r.getString(LOG)));
    return out;
  }

  /** The bytes_done of every report that has one, in order. */
  List<Long> bytesDone(String opId) {
    List<Long> out = new ArrayList<>();
    reports(opId).stream().filter(r -> r.getValue(BYTES_DONE) != null).forEach(r -> out.add(r.getLong(BYTES_DONE)));
    return out;
  }

  JsonObject request(String address, JsonObject body) {
    return await(vertx.eventBus().<JsonObject>request(address, body, new DeliveryOptions().setSendTimeout(20_000)))
        .body();
  }

  /** The failure of a request that must fail. */
  ReplyException requestFailure(String address, JsonObject body) {
    try {
      Message<Object> reply = vertx.eventBus().request(address, body, new DeliveryOptions().setSendTimeout(20_000))
          .toCompletionStage().toCompletableFuture().get();
      throw new AssertionError("expected a failure, got " + reply.body());
    } catch (java.util.concurrent.ExecutionException e) {
      return (ReplyException) e.getCause();
    } catch (InterruptedException e) {
      throw new AssertionError(e);
    }
  }

  /** True if this JVM has {@code file} mapped (a line of /proc/self/maps names it). */
  static boolean mapped(Path file) throws IOException {
    String real = file.toRealPath().toString();
    for (String line : Files.readAllLines(Path.of("/proc/self/maps"), StandardCharsets.UTF_8)) {
      if (line.endsWith(" " + real)) {
        return true;
      }
    }
    return false;
  }

  static void waitUntil(Duration timeout, java.util.function.BooleanSupplier condition, String what)
      throws InterruptedException {
    long end = System.nanoTime() + timeout.toNanos();
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > end) {
        throw new AssertionError(what + " not within " + timeout);
      }
      Thread.sleep(10);
    }
  }

  @Override
  public void close() {
    await(vertx.close());
  }
}
