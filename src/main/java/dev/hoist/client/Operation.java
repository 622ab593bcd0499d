package dev.hoist.client;

import static dev.hoist.contract.EventBusContract.*;

import dev.hoist.contract.HoistException;
import dev.hoist.contract.OperationStatus;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Objects;

/**
 * A read-only, typed view of one operation: the registry's JSON (the object of
 * {@code GET /api/llm/progress/{id}}, see {@code docs/event-bus.md}).
 *
 * <p>Getters read the JSON they were built from, so a field the registry adds later is still in
 * {@link #json()} even before it has a getter here. Absent optional fields read as {@code null}.
 */
public final class Operation {

  private final JsonObject json;

  /** Wraps {@code json} (copied, so later changes to it do not show here). */
  public Operation(JsonObject json) {
    this.json = Objects.requireNonNull(json, "json").copy();
  }

  /** The operation's UUID. */
  public String id() {
    return json.getString(OPERATION_ID);
  }

  /** What the user asked for: a catalog alias or {@code owner/name[@revision]}. */
  public String modelName() {
    return json.getString(MODEL_NAME);
  }

  /** The hub repository the name resolved to. */
  /** The fleet node that owns and runs it (docs/cluster.md). */
  public String node() {
    return json.getString(NODE);
  }

  /** On a child of a multi-node load: its parent's id; else null. */
  public String parentId() {
    return json.getString(PARENT_ID);
  }

  public String repo() {
    return json.getString(REPO);
  }

  public String revision() {
    return json.getString(REVISION);
  }

  /** The commit the revision was pinned to, or null until the download stage resolved it. */
  public String commit() {
    return json.getString(COMMIT);
  }

  public OperationStatus status() {
    String status = json.getString(STATUS);
    return status == null ? null : OperationStatus.fromWire(status);
  }

  /** True once the operation is completed, failed or cancelled. */
  public boolean isFinished() {
    OperationStatus status = status();
    return status != null && status.isFinished();
  }

  /** 0–100, never decreasing while the operation runs. */
  public int progress() {
    return json.getInteger(PROGRESS, 0);
  }

  /** The latest human-readable state. */
  public String message() {
    return json.getString(MESSAGE);
  }

  /** The log lines, oldest first ({@code HH:MM:SS [WARN|ERROR] text}). */
  public List<String> logs() {
    JsonArray logs = json.getJsonArray(LOGS);
    if (logs == null) {
      return List.of();
    }
    List<String> lines = new ArrayList<>(logs.size());
    for (int i = 0; i < logs.size(); i++) {
      lines.add(logs.getString(i));
    }
    return Collections.unmodifiableList(lines);
  }

  /** Grows by one on every change of this operation. */
  public long seq() {
    return json.getLong(SEQ, 0L);
  }

  /** The run number: 1, then one more per retry. */
  public int attempt() {
    return json.getInteger(ATTEMPT, 1);
  }

  public Instant createdAt() {
    return instant(CREATED_AT);
  }

  public Instant updatedAt() {
    return instant(UPDATED_AT);
  }

  /** The place in the queue while {@code queued}, else null. */
  public Integer queuePosition() {
    return json.getInteger("queue_position");
  }

  /** True when a load request joined this already running operation instead of starting one. */
  public boolean joined() {
    return json.getBoolean("joined", false);
  }

  /** The current stage's detail (bytes, rate, ETA, files); never null. */
  public Stage stage() {
    return new Stage(json.getJsonObject(STAGE, new JsonObject()));
  }

  /** The loaded model's summary (format, architecture, parameters …) once finalizing, else null. */
  public JsonObject summary() {
    JsonObject summary = json.getJsonObject(SUMMARY);
    return summary == null ? null : summary.copy();
  }

  /** Why it failed, when the status is {@code error}; else null. */
  public HoistException error() {
    JsonObject error = json.getJsonObject(ERROR);
    return error == null ? null : HoistException.fromJson(error);
  }

  /** A copy of the whole JSON object. */
  public JsonObject json() {
    return json.copy();
  }

  private Instant instant(String field) {
    String text = json.getString(field);
    return text == null ? null : Instant.parse(text);
  }

  @Override
  public String toString() {
    return "Operation[" + id() + " " + modelName() + " " + json.getString(STATUS) + " " + progress() + "% seq " + seq() + "]";
  }

  /** The detail of the stage an operation is in (the {@code stage} object). */
  public static final class Stage {
    private final JsonObject json;

    Stage(JsonObject json) {
      this.json = json;
    }

    /** The state this detail belongs to, e.g. {@code downloading}. */
    public String name() {
      return json.getString(STAGE_NAME);
    }

    public long bytesDone() {
      return json.getLong(BYTES_DONE, 0L);
    }

    public long bytesTotal() {
      return json.getLong(BYTES_TOTAL, 0L);
    }

    /** Over the last 5 s, measured up to now, so a stall shows as a falling rate. */
    public double bytesPerSecond() {
      Number rate = json.getNumber(BYTES_PER_SECOND);
      return rate == null ? 0 : rate.doubleValue();
    }

    /** Seconds left, or null when unknown. */
    public Long etaSeconds() {
      return json.getLong(ETA_SECONDS);
    }

    public String currentFile() {
      return json.getString(CURRENT_FILE);
    }

    public int filesDone() {
      return json.getInteger(FILES_DONE, 0);
    }

    public int filesTotal() {
      return json.getInteger(FILES_TOTAL, 0);
    }

    /** True while the download has received no byte for a while. */
    public boolean stalled() {
      return json.getBoolean(STALLED, false);
    }

    public JsonObject json() {
      return json.copy();
    }
  }
}
