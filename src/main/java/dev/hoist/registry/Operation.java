package dev.hoist.registry;

import static dev.hoist.contract.EventBusContract.*;

import dev.hoist.contract.HoistException;
import dev.hoist.contract.ModelRef;
import dev.hoist.contract.OperationStatus;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Map;

/**
 * One model load, as the registry keeps it. Mutated only on the registry's event loop. Its JSON
 * form ({@link #toJson()}) is the REST object and the WebSocket payload; {@link #toState()} adds
 * what a restart needs and is what the database stores.
 */
final class Operation {

  private static final DateTimeFormatter LOG_TIME = DateTimeFormatter.ofPattern("HH:mm:ss").withZone(ZoneOffset.UTC);
  private static final long RATE_WINDOW_MS = 5_000;
  static final String TIMELINE = "timeline";
  static final String QUEUE_POSITION = "queue_position";
  static final String PRIORITY = "priority";
  private static final String INTERNAL = "internal";

  final String id;
  final String modelName;
  final ModelCatalog.Entry entry;
  final Instant createdAt;
  final int maxLogs;

  OperationStatus status = OperationStatus.QUEUED;
  int progress;
  String message;
  final ArrayDeque<String> logs = new ArrayDeque<>();
  Instant updatedAt;
  Instant finishedAt;
  long seq;
  /** Tries the user asked for: 1, then +1 per retry. */
  int attempt = 1;
  /** Runs of the stages (attempts and resumes after a restart); a report of another run is stale. */
  int run;
  int priority;
  Integer queuePosition;
  Instant runStartedAt;
  String commit;
  /** {status, at} for every state entered, so history can show a timeline and durations. */
  final JsonArray timeline = new JsonArray();

  // The current stage's raw facts, as reported by the stage doing the work.
  String stageName = OperationStatus.QUEUED.wireName();
  long bytesDone;
  long bytesTotal;
  String currentFile;
  int filesDone;
  int filesTotal;
  double bytesPerSecond;
  boolean stalled;
  Long stalledSeconds;
  final RateWindow rate = new RateWindow(RATE_WINDOW_MS);
  JsonArray files;
  JsonObject options = new JsonObject();
  /** Bytes of the model's files, from the download manifest. */
  long modelBytes;
  /** The machine's resources, sampled while the operation runs (memory, disk, network, heap). */
  JsonObject resources;
  /** A "refresh": bring the files up to date in the cache, do not load them. */
  boolean downloadOnly;
  /** Who asked: "api", "preload" or "schedule:<id>". */
  String origin = "api";

  JsonObject downloadResult;
  JsonObject summary;
  HoistException error;
  /** The node that owns and runs this operation. */
  String node;
  /** Set on a child of a multi-node load: its parent's id. */
  String parentId;
  /** Set on a multi-node load's parent: {@code [{node, operation_id, status, progress, message}]}; it runs no stage itself. */
  JsonArray children;

  /**
   * {@link #toJson()} encoded, as of {@link #textSeq}. Changes are published, and publishing moves
   * {@code seq}, so the reads between two changes (REST polling) share one encoding. A change that is
   * not published (a resource sample, a parent's summed bytes) must call {@link #changedQuietly}.
   */
  private String text;
  private long textSeq;

  boolean isParent() {
    return children != null;
  }

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

  /** Running: holds one of the slots of the queue. */
  boolean isRunning() {
    return isActive() && status != OperationStatus.QUEUED;
  }

  /** Operations that would do the same work share one: same repo, revision, hub and options. */
  String dedupKey() {
    return entry.hub + "|" + entry.ref + "|" + options.encode() + (downloadOnly ? "|refresh" : "");
  }

  /** Appends a log line, dropping the oldest beyond MAX_PROGRESS_ENTRIES. */
  void log(Instant at, String level, String text) {
    String prefix = LOG_TIME.format(at) + (LEVEL_WARN.equals(level) ? " WARN " : LEVEL_ERROR.equals(level) ? " ERROR " : " ");
    logs.addLast(prefix + text);
    while (logs.size() > maxLogs) {
      logs.pollFirst();
    }
  }

  /** Enters a new state: the stage detail starts over, progress moves to at least the band's start. */
  void enter(OperationStatus next) {
    status = next;
    stageName = next.wireName();
    bytesDone = 0;
    bytesTotal = 0;
    currentFile = null;
    bytesPerSecond = 0;
    stalled = false;
    rate.reset();
    raiseProgress(next.bandStart);
    mark(next);
  }

  /** Records a state change on the timeline without touching the stage detail. */
  void mark(OperationStatus next) {
    status = next;
    stageName = next.wireName();
    timeline.add(new JsonObject().put(STATUS, next.wireName()).put("at", Instant.now().toString()));
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

  /** {@link #toJson()} as JSON text, encoded once per change. */
  String toText() {
    if (text == null || textSeq != seq) {
      text = toJson().encode();
      textSeq = seq;
    }
    return text;
  }

  /** A change that is not published: the next read encodes the operation again. */
  void changedQuietly() {
    text = null;
  }

  /** The machine's resources, sampled while it runs: shown on the next read, published with the next change. */
  void sampled(JsonObject machine) {
    resources = machine;
    changedQuietly();
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
    if (resources != null && isRunning()) {
      stage.put("resources", resources.copy());
    }
    JsonObject json = new JsonObject()
        .put(OPERATION_ID, id)
        .put(MODEL_NAME, modelName)
        .put(REPO, entry.ref.repo)
        .put(REVISION, entry.ref.revision)
        .put(COMMIT, commit)
        .put(STATUS, status.wireName())
        .put(PROGRESS, progress)
        .put(MESSAGE, message)
        .put(LOGS, new JsonArray(new ArrayList<>(logs)))
        .put(CREATED_AT, createdAt.toString())
        .put(UPDATED_AT, updatedAt.toString())
        .put(SEQ, seq)
        .put(ATTEMPT, attempt)
        .put(PRIORITY, priority)
        .put(QUEUE_POSITION, status == OperationStatus.QUEUED ? queuePosition : null)
        .put(STAGE, stage)
        .put(FILES, files == null ? new JsonArray() : files.copy())
        .put(TIMELINE, timeline.copy())
        .put("origin", origin)
        .put(NODE, node);
    if (parentId != null) {
      json.put(PARENT_ID, parentId);
    }
    if (children != null) {
      json.put(CHILDREN, children.copy());
    }
    if (downloadOnly) {
      json.put("download_only", true);
    }
    if (!options.isEmpty()) {
      json.put(OPTIONS, options.copy());
    }
    if (summary != null) {
      json.put(SUMMARY, summary.copy());
    }
    if (error != null) {
      json.put(ERROR, error.toJson());
    }
    return json;
  }

  /** The public form plus what only a restart needs. */
  JsonObject toState() {
    JsonObject internal = new JsonObject()
        .put("entry_name", entry.name)
        .put(HUB, entry.hub)
        .put("entry", entry.json.copy())
        .put("run", run)
        .put("model_bytes", modelBytes)
        .put("download_result", downloadResult == null ? null : downloadResult.copy());
    return toJson().put("finished_at", finishedAt == null ? null : finishedAt.toString()).put(INTERNAL, internal);
  }

  static Operation fromState(JsonObject s, int maxLogs) {
    JsonObject internal = s.getJsonObject(INTERNAL, new JsonObject());
    ModelRef ref = ModelRef.of(s.getString(REPO), s.getString(REVISION));
    ModelCatalog.Entry entry = new ModelCatalog.Entry(internal.getString("entry_name", s.getString(MODEL_NAME)), ref,
        internal.getString(HUB, ModelCatalog.DEFAULT_HUB), internal.getJsonObject("entry", new JsonObject()));
    Operation op = new Operation(s.getString(OPERATION_ID), s.getString(MODEL_NAME), entry,
        Instant.parse(s.getString(CREATED_AT)), maxLogs);
    op.status = OperationStatus.fromWire(s.getString(STATUS));
    op.stageName = s.getJsonObject(STAGE, new JsonObject()).getString(STAGE_NAME, op.status.wireName());
    op.progress = s.getInteger(PROGRESS, 0);
    op.message = s.getString(MESSAGE);
    s.getJsonArray(LOGS, new JsonArray()).forEach(line -> op.logs.addLast(String.valueOf(line)));
    while (op.logs.size() > maxLogs) {
      op.logs.pollFirst();
    }
    op.updatedAt = Instant.parse(s.getString(UPDATED_AT));
    String finished = s.getString("finished_at");
    op.finishedAt = finished == null ? null : Instant.parse(finished);
    op.seq = s.getLong(SEQ, 0L);
    op.attempt = s.getInteger(ATTEMPT, 1);
    op.priority = s.getInteger(PRIORITY, 0);
    op.commit = s.getString(COMMIT);
    s.getJsonArray(TIMELINE, new JsonArray()).forEach(op.timeline::add);
    JsonObject stage = s.getJsonObject(STAGE, new JsonObject());
    op.bytesDone = stage.getLong(BYTES_DONE, 0L);
    op.bytesTotal = stage.getLong(BYTES_TOTAL, 0L);
    op.filesDone = stage.getInteger(FILES_DONE, 0);
    op.filesTotal = stage.getInteger(FILES_TOTAL, 0);
    op.files = s.getJsonArray(FILES);
    op.options = s.getJsonObject(OPTIONS, new JsonObject());
    op.summary = s.getJsonObject(SUMMARY);
    if (s.getJsonObject(ERROR) != null) {
      op.error = HoistException.fromJson(s.getJsonObject(ERROR));
    }
    op.run = internal.getInteger("run", 0);
    op.modelBytes = internal.getLong("model_bytes", 0L);
    op.downloadResult = internal.getJsonObject("download_result");
    op.downloadOnly = s.getBoolean("download_only", false);
    op.origin = s.getString("origin", "api");
    op.node = s.getString(NODE);
    op.parentId = s.getString(PARENT_ID);
    op.children = s.getJsonArray(CHILDREN);
    return op;
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
