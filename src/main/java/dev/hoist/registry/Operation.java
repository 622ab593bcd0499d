package dev.hoist.registry;

import static dev.hoist.contract.EventBusContract.*;

import dev.hoist.contract.HoistException;
import dev.hoist.contract.OperationStatus;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayDeque;
import java.util.Map;

/**
 * One model load, as the registry keeps it. Mutated only on the registry's event loop; its JSON
 * form ({@link #toJson()}) is the REST object and the WebSocket payload.
 */
final class Operation {

  private static final DateTimeFormatter LOG_TIME = DateTimeFormatter.ofPattern("HH:mm:ss").withZone(ZoneOffset.UTC);
  private static final long RATE_WINDOW_MS = 5_000;

  final String id;
  final String modelName;
  final ModelCatalog.Entry entry;
  final Instant createdAt;
  final int maxLogs;

  OperationStatus status = OperationStatus.INITIALIZING;
  int progress;
  String message;
  final ArrayDeque<String> logs = new ArrayDeque<>();
  Instant updatedAt;
  Instant finishedAt;
  long seq;
  int attempt = 1;
  String commit;

  // The current stage's raw facts, as reported by the stage doing the work.
  String stageName = OperationStatus.INITIALIZING.wireName();
  long bytesDone;
  long bytesTotal;
  String currentFile;
  int filesDone;
  int filesTotal;
  double bytesPerSecond;
  final RateWindow rate = new RateWindow(RATE_WINDOW_MS);
  JsonArray files;
  JsonObject options = new JsonObject();
  boolean stalled;
  Long stalledSeconds;

  JsonObject downloadResult;
  JsonObject summary;
  HoistException error;

  Operation(String id, String modelName, ModelCatalog.Entry entry, Instant now, int maxLogs) {
    this.id = id;
    this.modelName = modelName;
    this.entry = entry;
    this.createdAt = now;
    this.updatedAt = now;
    this.maxLogs = maxLogs;
  }

  boolean isActive() {
    return !status.isFinished();
  }

  /** Appends a log line, dropping the oldest beyond MAX_PROGRESS_ENTRIES. */
  void log(Instant at, String level, String text) {
    String prefix = LOG_TIME.format(at) + (LEVEL_WARN.equals(level) ? " WARN " : LEVEL_ERROR.equals(level) ? " ERROR " : " ");
    logs.addLast(prefix + text);
    while (logs.size() > maxLogs) {
      logs.pollFirst();
    }
  }

  /** Enters a new state: the stage detail starts over, progress jumps to the band's start. */
  void enter(OperationStatus next, long nowNanos) {
    status = next;
    stageName = next.wireName();
    stalled = false;
    bytesDone = 0;
    bytesTotal = 0;
    currentFile = null;
    bytesPerSecond = 0;
    rate.reset();
    raiseProgress(next.bandStart);
  }

  /** Progress never goes backwards. */
  void raiseProgress(int candidate) {
    progress = Math.max(progress, Math.min(candidate, 100));
  }

  void updateBytes(long done, long total, long nowNanos) {
    bytesDone = done;
    bytesTotal = total;
    rate.add(nowNanos, done);
    bytesPerSecond = rate.rate(nowNanos);
    if (total > 0) {
      raiseProgress(status.progressAt((double) done / total));
    }
  }

  /** Recomputes the rate against the clock; true if it changed enough to be worth publishing. */
  boolean refreshRate(long nowNanos) {
    double before = bytesPerSecond;
    bytesPerSecond = rate.rate(nowNanos);
    return Math.abs(before - bytesPerSecond) > Math.max(1, before * 0.01);
  }

  Long etaSeconds() {
    if (bytesTotal <= 0 || bytesPerSecond < 1 || bytesDone >= bytesTotal) {
      return bytesTotal > 0 && bytesDone >= bytesTotal ? 0L : null;
    }
    return (long) Math.ceil((bytesTotal - bytesDone) / bytesPerSecond);
  }

  JsonObject toJson() {
    JsonObject stage = new JsonObject()
        .put(STAGE_NAME, stageName)
        .put(BYTES_DONE, bytesDone)
        .put(BYTES_TOTAL, bytesTotal)
        .put(BYTES_PER_SECOND, Math.round(bytesPerSecond * 10) / 10.0)
        .put(ETA_SECONDS, isActive() ? etaSeconds() : null)
        .put(CURRENT_FILE, currentFile)
        .put(FILES_DONE, filesDone)
        .put(FILES_TOTAL, filesTotal)
        .put(STALLED, stalled && isActive())
        .put(STALLED_SECONDS, stalled && isActive() ? stalledSeconds : null);
    JsonObject json = new JsonObject()
        .put(OPERATION_ID, id)
        .put(MODEL_NAME, modelName)
        .put(REPO, entry.ref.repo)
        .put(REVISION, entry.ref.revision)
        .put(COMMIT, commit)
        .put(STATUS, status.wireName())
        .put(PROGRESS, progress)
        .put(MESSAGE, message)
        .put(LOGS, new JsonArray(new java.util.ArrayList<>(logs)))
        .put(CREATED_AT, createdAt.toString())
        .put(UPDATED_AT, updatedAt.toString())
        .put(SEQ, seq)
        .put(ATTEMPT, attempt)
        .put(STAGE, stage)
        .put(FILES, files == null ? new JsonArray() : files.copy());
    if (summary != null) {
      json.put(SUMMARY, summary.copy());
    }
    if (error != null) {
      json.put(ERROR, error.toJson());
    }
    return json;
  }

  /** Applies a per-file progress map {path → bytes done} onto the manifest. */
  void updateFiles(Map<String, Long> doneByPath) {
    if (files == null) {
      return;
    }
    for (int i = 0; i < files.size(); i++) {
      JsonObject f = files.getJsonObject(i);
      Long done = doneByPath.get(f.getString(PATH));
      if (done != null) {
        f.put(BYTES_DONE, done);
      }
    }
  }
}
