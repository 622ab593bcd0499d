package dev.hoist.contract;

import static dev.hoist.contract.EventBusContract.*;

import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import java.util.function.Supplier;

/**
 * How a stage tells the registry about one operation: progress at most every {@code intervalMs}
 * (throttled at the source, so a fast transfer never floods the bus), and always at boundaries.
 */
public final class StageReporter {

  private final Vertx vertx;
  private final String operationId;
  private final int attempt;
  private final long intervalNanos;
  private String stage;
  private long lastSent;

  public StageReporter(Vertx vertx, String operationId, int attempt, String stage, long intervalMs) {
    this.vertx = vertx;
    this.operationId = operationId;
    this.attempt = attempt;
    this.stage = stage;
    this.intervalNanos = intervalMs * 1_000_000L;
  }

  public String operationId() {
    return operationId;
  }

  public int attempt() {
    return attempt;
  }

  public void stage(String stage) {
    this.stage = stage;
  }

  /** Sends now. */
  public void progress(JsonObject fields) {
    lastSent = System.nanoTime();
    send(KIND_PROGRESS, fields);
  }

  /** Sends only if the last report is older than the interval; the fields are built only then. */
  public void maybeProgress(Supplier<JsonObject> fields) {
    if (System.nanoTime() - lastSent >= intervalNanos) {
      progress(fields.get());
    }
  }

  public void log(String level, String line) {
    progress(new JsonObject().put(LOG, line).put(LOG_LEVEL, level));
  }

  public void info(String line) {
    log(LEVEL_INFO, line);
  }

  public void warn(String line) {
    log(LEVEL_WARN, line);
  }

  public void completed(JsonObject result, JsonObject fields) {
    send(KIND_COMPLETED, fields.copy().put(RESULT, result));
  }

  public void failed(HoistException error) {
    send(KIND_FAILED, new JsonObject().put(ERROR, error.toJson()));
  }

  private void send(String kind, JsonObject fields) {
    JsonObject report = fields.copy()
        .put(OPERATION_ID, operationId)
        .put(ATTEMPT, attempt)
        .put(STAGE, stage)
        .put(KIND, kind);
    vertx.eventBus().send(OPS_REPORT, report);
  }
}
