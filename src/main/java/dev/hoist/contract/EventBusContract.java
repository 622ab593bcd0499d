package dev.hoist.contract;

/**
 * The public event-bus contract of Hoist: every address and message field the four verticles use
 * to talk to each other, and that an embedding application may use to talk to them.
 *
 * <p>All messages are {@link io.vertx.core.json.JsonObject}s so that they cross a cluster and other
 * languages unchanged. Requests that fail are answered with {@code message.fail(status, text)}, where
 * {@code status} is an HTTP-like code and {@code text} is {@code "<error_code>: <human message>"}
 * (see {@link ErrorCode} and {@link Failures}). {@code docs/event-bus.md} describes each message.
 *
 * <p>Names are stable: add fields, never rename or repurpose one.
 */
public final class EventBusContract {

  private EventBusContract() {
  }

  /** Prefix of every Hoist address, so a host application can tell them apart from its own. */
  public static final String PREFIX = "hoist.";

  // ---------------------------------------------------------------- registry (owner of operations)

  /** Request {@code {model_name, ...options}} → the new operation (REST shape). Fails 400/404. */
  public static final String OPS_CREATE = PREFIX + "ops.create";
  /** Request {@code {operation_id}} → the operation (REST shape). Fails 404. */
  public static final String OPS_GET = PREFIX + "ops.get";
  /** Request {@code {}} → {@code {operations: [...]}}, newest first. */
  public static final String OPS_LIST = PREFIX + "ops.list";
  /** Request {@code {operation_id}} → the operation, now {@code cancelled}. Fails 404, or 409 when finished. */
  public static final String OPS_CANCEL = PREFIX + "ops.cancel";
  /**
   * Request {@code {operation_id}} → the operation, started again under the same id with
   * {@code attempt} + 1, continuing from what is on disk. Fails 404, or 409 unless failed or cancelled.
   */
  public static final String OPS_RETRY = PREFIX + "ops.retry";
  /** Request {@code {model?, status?, limit?}} → {@code {operations: [...]}} from the database, newest first. */
  public static final String OPS_HISTORY = PREFIX + "ops.history";
  /** Request {@code {}} → {@code {models: [{model_name, loads, ...}]}}: per-model statistics. */
  public static final String OPS_STATS = PREFIX + "ops.stats";
  /** Request {@code {}} → {@code {schedules: [{id, cron, action, model_name, request, next_run, last_run, ...}]}}. */
  public static final String SCHEDULES_LIST = PREFIX + "schedules.list";
  /** Request {@code {cron, action?, model_name, ...load options}} → the new schedule. Fails 400/404. */
  public static final String SCHEDULES_CREATE = PREFIX + "schedules.create";
  /** Request {@code {id}} → {@code {}}. Fails 404. */
  public static final String SCHEDULES_DELETE = PREFIX + "schedules.delete";
  /** Request {@code {operation_id}} → {@code {}}; removes a finished operation. Fails 404/409. */
  public static final String OPS_DELETE = PREFIX + "ops.delete";
  /**
   * Published by the registry on every change of an operation: the operation (REST shape, with
   * {@link #SEQ}), or {@code {operation_id, seq, removed: true}} when it is dropped.
   */
  public static final String OPS_UPDATES = PREFIX + "ops.updates";
  /** Sent (no reply) by the stages to the registry: progress, logs and results of a stage. */
  public static final String OPS_REPORT = PREFIX + "ops.report";
  /** Request {@code {}} → {@code {models: [...]}}: the catalog with download and load state. */
  public static final String MODELS_LIST = PREFIX + "models.list";

  /**
   * Request header: with the value {@link #REPLY_AS_TEXT} on a {@link #OPS_GET} or {@link #OPS_LIST}
   * request, the reply is the same JSON object encoded as text (a {@code String}). For a caller that
   * only passes the JSON on, such as the gateway answering REST, it spares the copy the event bus
   * makes of an object reply and the encoding on the caller's side. Without it the reply is a
   * {@code JsonObject}, as always.
   */
  public static final String REPLY_FORMAT = "hoist-reply-format";
  /** The value of {@link #REPLY_FORMAT} that asks for JSON text. */
  public static final String REPLY_AS_TEXT = "text";

  // ---------------------------------------------------------------- fleet (clustered mode, docs/cluster.md)

  /**
   * Request {@code {}} → {@code {self, clustered, nodes: [{node, status, self, last_seen, resources,
   * loaded_models, active_operations}]}}: every node of the fleet as this node sees it.
   */
  public static final String NODES_LIST = PREFIX + "nodes.list";
  /**
   * Published by each node's registry every HOIST_CLUSTER_HEARTBEAT_MS: {@code {node, started_at,
   * resources, loaded_models, active_operations}}. A node silent for HOIST_CLUSTER_NODE_TIMEOUT_MS is lost.
   */
  public static final String NODES_HEARTBEAT = PREFIX + "nodes.heartbeat";
  /** Prefix of the node-scoped addresses: see {@link #onNode(String, String)}. */
  public static final String NODE_PREFIX = PREFIX + "node.";

  /**
   * The address of one node's registry for a registry request: {@code onNode("b", OPS_GET)} is
   * {@code hoist.node.b.ops.get}, answered by node b only, about node b's own operations. The plain
   * addresses ({@link #OPS_GET} …) are local to each node and answer for the whole fleet; these are
   * what nodes use to ask each other, and what a clustered application without Hoist deployed uses.
   * Available for {@link #OPS_CREATE}, {@link #OPS_GET}, {@link #OPS_LIST}, {@link #OPS_CANCEL},
   * {@link #OPS_RETRY}, {@link #OPS_DELETE}, {@link #OPS_HISTORY}.
   */
  public static String onNode(String node, String address) {
    return NODE_PREFIX + node + "." + address.substring(PREFIX.length());
  }

  // ---------------------------------------------------------------- stages

  /** Request: start downloading a model for an operation; replied to at once with {@code {accepted: true}}. */
  public static final String DOWNLOAD_START = PREFIX + "download.start";
  /** Request {@code {models: [{repo, revision, hub}]}} → {@code {models: [{..., downloaded}]}}. */
  public static final String DOWNLOAD_CACHED = PREFIX + "download.cached";
  /** Request: page a downloaded model into memory; replied to at once with {@code {accepted: true}}. */
  public static final String LOAD_START = PREFIX + "load.start";
  /** Request {@code {}} → {@code {models: [...]}}: models resident in memory on this node. */
  public static final String LOAD_RESIDENT = PREFIX + "load.resident";
  /**
   * Request {@code {operation_id}} → {@code {cancelled: bool}}: stop the operation's download at
   * once (connections closed, partial files kept for later). No report follows for that attempt.
   */
  public static final String DOWNLOAD_CANCEL = PREFIX + "download.cancel";
  /** Request {@code {operation_id}} → {@code {cancelled: bool}}: stop paging in / kill the native service. */
  public static final String LOAD_CANCEL = PREFIX + "load.cancel";
  /**
   * Request {@code {repo}} → {@code {unloaded: [model_key...], bytes_released}}: release every
   * resident model of that repo. Fails 404 when none is resident.
   */
  public static final String LOAD_UNLOAD = PREFIX + "load.unload";
  /** Request {@code {repo}} → {@code {touched: [model_key...]}}: the model counts as used now (keep-alive). 404 when not loaded. */
  public static final String LOAD_TOUCH = PREFIX + "load.touch";
  /** Request {@code {model_name}} (registry) → as {@link #LOAD_TOUCH}, after resolving the name. */
  public static final String MODELS_TOUCH = PREFIX + "models.touch";
  /**
   * Published by the load stage when a resident model goes away on its own:
   * {@code {event: "unloaded", reason: "idle"|"evicted", model_key, repo, bytes_released, idle_seconds, node}}.
   * The gateway forwards it to WebSocket subscribers of "*" as {@code {type: "model", ...}}.
   */
  public static final String MODELS_EVENTS = PREFIX + "models.events";
  /** In {@code load.start}: seconds a resident model may stay unused before it is unloaded (-1 = forever). */
  public static final String KEEP_ALIVE = "keep_alive";
  /** In {@code load.start}: a pinned model is never unloaded by keep-alive or eviction. */
  public static final String PINNED = "pinned";
  /** Request {@code {model_name}} (registry) → as {@link #LOAD_UNLOAD}, after resolving the name. */
  public static final String MODELS_UNLOAD = PREFIX + "models.unload";

  // ---------------------------------------------------------------- liveness

  /** Each verticle answers {@code {verticle: name}} on {@code PING_PREFIX + name}. */
  public static final String PING_PREFIX = PREFIX + "ping.";
  public static final String VERTICLE_REGISTRY = "registry";
  public static final String VERTICLE_DOWNLOAD = "download";
  public static final String VERTICLE_LOAD = "load";
  public static final String VERTICLE_GATEWAY = "gateway";

  // ---------------------------------------------------------------- operation fields (REST shape)

  public static final String OPERATION_ID = "operation_id";
  public static final String MODEL_NAME = "model_name";
  public static final String REPO = "repo";
  public static final String REVISION = "revision";
  /** The name of a hub from configuration ("mirror", "huggingface"); never a URL from a request. */
  public static final String HUB = "hub";
  public static final String COMMIT = "commit";
  /** One of {@link OperationStatus}'s wire names. */
  public static final String STATUS = "status";
  /** Integer 0–100; never decreases. */
  public static final String PROGRESS = "progress";
  public static final String MESSAGE = "message";
  /** Array of strings, the newest last, at most MAX_PROGRESS_ENTRIES. */
  public static final String LOGS = "logs";
  public static final String CREATED_AT = "created_at";
  public static final String UPDATED_AT = "updated_at";
  /** Grows by one on every change of an operation. */
  public static final String SEQ = "seq";
  /** The current stage's detail object (fields below). */
  public static final String STAGE = "stage";
  /** Files of the model: {@code [{path, size, bytes_done}]}. */
  public static final String FILES = "files";
  /** The loaded model's summary, set while finalizing. */
  public static final String SUMMARY = "summary";
  /** {@code {code, message, retryable}} on failure. */
  public static final String ERROR = "error";
  public static final String REMOVED = "removed";
  /** The fleet node that owns and runs the operation ({@code HOIST_NODE_NAME}). */
  public static final String NODE = "node";
  /** In a load request: a list of node names, or {@code "all"}: one parent operation with a child per node. */
  public static final String NODES = "nodes";
  /** On a child operation: the parent operation's id. */
  public static final String PARENT_ID = "parent_id";
  /** On a parent operation: {@code [{node, operation_id, status, progress}]}, one per node. */
  public static final String CHILDREN = "children";

  /** Request options of a load: {@code {include: [glob], quantization, file, max_bytes_per_second}}. */
  public static final String OPTIONS = "options";
  public static final String INCLUDE = "include";
  public static final String QUANTIZATION = "quantization";
  public static final String FILE = "file";
  public static final String MAX_BYTES_PER_SECOND = "max_bytes_per_second";
  /** In {@code load.start}: how to hand the model to a native LLM service, or absent to load in-process. */
  public static final String NATIVE = "native";
  public static final String CANCELLED = "cancelled";
  public static final String UNLOADED = "unloaded";
  public static final String BYTES_RELEASED = "bytes_released";

  // ---------------------------------------------------------------- stage detail fields

  /** True while no byte has arrived for HOIST_DOWNLOAD_STALL_SECONDS; reported by the download stage. */
  public static final String STALLED = "stalled";
  /** Seconds since the last byte arrived, while stalled. */
  public static final String STALLED_SECONDS = "stalled_seconds";

  public static final String STAGE_NAME = "name";
  public static final String BYTES_DONE = "bytes_done";
  public static final String BYTES_TOTAL = "bytes_total";
  public static final String BYTES_PER_SECOND = "bytes_per_second";
  public static final String ETA_SECONDS = "eta_seconds";
  public static final String CURRENT_FILE = "current_file";
  public static final String FILES_DONE = "files_done";
  public static final String FILES_TOTAL = "files_total";

  // ---------------------------------------------------------------- file fields

  public static final String PATH = "path";
  public static final String SIZE = "size";
  public static final String SHA256 = "sha256";
  public static final String LOCAL_PATH = "local_path";

  // ---------------------------------------------------------------- error fields

  public static final String CODE = "code";
  public static final String RETRYABLE = "retryable";

  // ---------------------------------------------------------------- stage commands and reports

  /** Counts the runs of an operation; a report from an older attempt is ignored. */
  public static final String ATTEMPT = "attempt";
  /** Report kind: one of {@link #KIND_PROGRESS}, {@link #KIND_COMPLETED}, {@link #KIND_FAILED}. */
  public static final String KIND = "kind";
  public static final String KIND_PROGRESS = "progress";
  public static final String KIND_COMPLETED = "completed";
  public static final String KIND_FAILED = "failed";
  /** A log line (string) carried by a report; {@link #LOG_LEVEL} says how to show it. */
  public static final String LOG = "log";
  public static final String LOG_LEVEL = "log_level";
  public static final String LEVEL_INFO = "info";
  public static final String LEVEL_WARN = "warn";
  public static final String LEVEL_ERROR = "error";
  /** In a download report: {@code {path: bytes_done}} for the files that moved since the last one. */
  public static final String FILE_PROGRESS = "file_progress";
  /** A completed stage's result object. */
  public static final String RESULT = "result";
  /** Where a downloaded snapshot lives on disk (a directory). */
  public static final String SNAPSHOT_DIR = "snapshot_dir";
  /** A model key, {@code repo@commit}, naming a resident model. */
  public static final String MODEL_KEY = "model_key";
  public static final String ACCEPTED = "accepted";
  public static final String OPERATIONS = "operations";
  public static final String MODELS = "models";
  public static final String DOWNLOADED = "downloaded";
  public static final String LOADED = "loaded";
  public static final String VERTICLE = "verticle";
}
