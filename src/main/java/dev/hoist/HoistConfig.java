package dev.hoist;

import io.vertx.core.json.JsonObject;
import java.nio.file.Path;
import java.nio.file.Paths;

/**
 * Typed, validated view of Hoist's configuration: {@code conf/config.json} overlaid by environment
 * variables of the same names. Every verticle receives the whole object and reads what it needs here,
 * so a default lives in exactly one place.
 */
public final class HoistConfig {

  public static final String DATA_DIR = "HOIST_DATA_DIR";
  public static final String HTTP_PORT = "HOIST_HTTP_PORT";
  public static final String HTTP_HOST = "HOIST_HTTP_HOST";
  public static final String HF_ENDPOINT = "HF_ENDPOINT";
  public static final String HF_TOKEN = "HF_TOKEN";
  public static final String HF_HUB_CACHE = "HF_HUB_CACHE";
  public static final String HF_HOME = "HF_HOME";
  public static final String MAX_PROGRESS_ENTRIES = "MAX_PROGRESS_ENTRIES";
  public static final String PROGRESS_CLEANUP_INTERVAL = "PROGRESS_CLEANUP_INTERVAL";
  public static final String MODELS_FILE = "HOIST_MODELS_FILE";
  public static final String WEBROOT = "HOIST_WEBROOT";
  public static final String MIRROR_ENABLED = "HOIST_MIRROR_ENABLED";
  public static final String MIRROR_DIR = "HOIST_MIRROR_DIR";
  public static final String MIRROR_DEMO_MODELS = "HOIST_MIRROR_DEMO_MODELS";
  public static final String MIRROR_ENDPOINT = "HOIST_MIRROR_ENDPOINT";
  public static final String DOWNLOAD_MAX_BYTES_PER_SECOND = "HOIST_DOWNLOAD_MAX_BYTES_PER_SECOND";
  public static final String DOWNLOAD_RETRIES = "HOIST_DOWNLOAD_RETRIES";
  public static final String DOWNLOAD_RETRY_BASE_MS = "HOIST_DOWNLOAD_RETRY_BASE_MS";
  public static final String DOWNLOAD_STALL_SECONDS = "HOIST_DOWNLOAD_STALL_SECONDS";
  public static final String PROGRESS_INTERVAL_MS = "HOIST_PROGRESS_INTERVAL_MS";
  public static final String REQUEST_TIMEOUT_MS = "HOIST_REQUEST_TIMEOUT_MS";
  public static final String MEMORY_HEADROOM_MB = "HOIST_MEMORY_HEADROOM_MB";
  /** A cap on the memory loads may use, below what the system has (0 = no cap). */
  public static final String MEMORY_LIMIT_MB = "HOIST_MEMORY_LIMIT_MB";
  public static final String NATIVE_LLM_URL = "NATIVE_LLM_URL";
  public static final String STING_LLM_SCRIPT = "STING_LLM_SCRIPT";
  /** A command template run after download instead of loading in-process, e.g. "llama-server -m {path} --port {port}". */
  public static final String NATIVE_COMMAND = "HOIST_NATIVE_COMMAND";

  public static final String MAX_CONCURRENT = "HOIST_MAX_CONCURRENT";
  public static final String TIMEOUT_SMALL_SECONDS = "HOIST_TIMEOUT_SMALL_SECONDS";
  public static final String TIMEOUT_MEDIUM_SECONDS = "HOIST_TIMEOUT_MEDIUM_SECONDS";
  public static final String TIMEOUT_LARGE_SECONDS = "HOIST_TIMEOUT_LARGE_SECONDS";
  public static final String WEBHOOKS = "HOIST_WEBHOOKS";
  public static final String WEBHOOK_RETRIES = "HOIST_WEBHOOK_RETRIES";
  public static final String WEBHOOK_RETRY_BASE_MS = "HOIST_WEBHOOK_RETRY_BASE_MS";
  public static final String PERSIST_INTERVAL_MS = "HOIST_PERSIST_INTERVAL_MS";

  /** True: do not ask the hub in readiness checks (air-gapped, mirror only). */
  public static final String OFFLINE = "HOIST_OFFLINE";

  public static final String API_TOKEN = "HOIST_API_TOKEN";
  public static final String PROTECT_READS = "HOIST_AUTH_PROTECT_READS";
  public static final String ALLOW_INSECURE = "HOIST_ALLOW_INSECURE";
  public static final String ALLOWED_ORIGINS = "HOIST_ALLOWED_ORIGINS";
  public static final String WS_MAX_CONNECTIONS = "HOIST_WS_MAX_CONNECTIONS";
  public static final String WS_MAX_SUBSCRIPTIONS = "HOIST_WS_MAX_SUBSCRIPTIONS";
  public static final String WS_MAX_MESSAGE_BYTES = "HOIST_WS_MAX_MESSAGE_BYTES";
  public static final String WS_IDLE_SECONDS = "HOIST_WS_IDLE_SECONDS";
  public static final String WS_MAX_QUEUED_BYTES = "HOIST_WS_MAX_QUEUED_BYTES";
  public static final String LOAD_RATE_PER_MINUTE = "HOIST_LOAD_RATE_PER_MINUTE";
  public static final String TLS_CERT = "HOIST_TLS_CERT";
  public static final String TLS_KEY = "HOIST_TLS_KEY";
  public static final String TLS_SELF_SIGNED = "HOIST_TLS_SELF_SIGNED";

  /** Loads to start when Hoist starts: model names, or request objects {model_name, revision, ...}. */
  public static final String PRELOAD = "HOIST_PRELOAD";

  /** How long a resident model may stay unused before it is unloaded: "30s", "10m", "2h", seconds, or -1 (forever, the default). */
  public static final String KEEP_ALIVE = "HOIST_KEEP_ALIVE";
  /** When memory is short for a new load, unload the least recently used unpinned models first. */
  public static final String EVICT_FOR_MEMORY = "HOIST_EVICT_FOR_MEMORY";

  /** Every key that may come from the environment (see also {@link #allEnvKeys()}). */
  public static final String[] ENV_KEYS = {
      DATA_DIR, HTTP_PORT, HTTP_HOST, HF_ENDPOINT, HF_TOKEN, HF_HUB_CACHE, HF_HOME,
      MAX_PROGRESS_ENTRIES, PROGRESS_CLEANUP_INTERVAL, MODELS_FILE, WEBROOT, MIRROR_ENABLED,
      MIRROR_DIR, MIRROR_DEMO_MODELS, MIRROR_ENDPOINT, DOWNLOAD_MAX_BYTES_PER_SECOND,
      DOWNLOAD_RETRIES, DOWNLOAD_RETRY_BASE_MS, DOWNLOAD_STALL_SECONDS, PROGRESS_INTERVAL_MS, REQUEST_TIMEOUT_MS,
      MEMORY_HEADROOM_MB, MEMORY_LIMIT_MB, NATIVE_LLM_URL, STING_LLM_SCRIPT, NATIVE_COMMAND,
      MAX_CONCURRENT, TIMEOUT_SMALL_SECONDS, TIMEOUT_MEDIUM_SECONDS, TIMEOUT_LARGE_SECONDS, WEBHOOKS,
      WEBHOOK_RETRIES, WEBHOOK_RETRY_BASE_MS, PERSIST_INTERVAL_MS, OFFLINE, API_TOKEN, PROTECT_READS,
      ALLOW_INSECURE, ALLOWED_ORIGINS, WS_MAX_CONNECTIONS, WS_MAX_SUBSCRIPTIONS, WS_MAX_MESSAGE_BYTES,
      WS_IDLE_SECONDS, WS_MAX_QUEUED_BYTES, LOAD_RATE_PER_MINUTE, TLS_CERT, TLS_KEY, TLS_SELF_SIGNED, PRELOAD,
      KEEP_ALIVE, EVICT_FOR_MEMORY
  };

  private final JsonObject json;

  /** ENV_KEYS and the stage-specific key lists, for the environment store of vertx-config. */
  public static java.util.List<String> allEnvKeys() {
    java.util.List<String> keys = new java.util.ArrayList<>(java.util.Arrays.asList(ENV_KEYS));
    for (java.lang.reflect.Field f : HoistConfig.class.getFields()) {
      if (f.getName().endsWith("_ENV_KEYS") && f.getType() == String[].class) {
        try {
          keys.addAll(java.util.Arrays.asList((String[]) f.get(null)));
        } catch (IllegalAccessException e) {
          throw new IllegalStateException(e);
        }
      }
    }
    return keys;
  }

  public HoistConfig(JsonObject json) {
    this.json = json == null ? new JsonObject() : json;
  }

  public JsonObject json() {
    return json;
  }

  public Path dataDir() {
    return Paths.get(string(DATA_DIR, "./data")).toAbsolutePath().normalize();
  }

  public int httpPort() {
    return (int) range(HTTP_PORT, 8080, 0, 65535);
  }

  public String httpHost() {
    return string(HTTP_HOST, "127.0.0.1");
  }

  public String hfEndpoint() {
    return stripSlash(string(HF_ENDPOINT, "https://huggingface.co"));
  }

  /** The token for the Hugging Face hub; never logged. Null when unset or blank. */
  public String hfToken() {
    String token = string(HF_TOKEN, null);
    return token == null || token.isBlank() ? null : token.trim();
  }

  /** huggingface_hub's rule: HF_HUB_CACHE, else $HF_HOME/hub, else (ours) the data dir's hub/. */
  public Path hubCache() {
    String cache = string(HF_HUB_CACHE, null);
    if (cache != null && !cache.isBlank()) {
      return Paths.get(cache).toAbsolutePath().normalize();
    }
    String home = string(HF_HOME, null);
    if (home != null && !home.isBlank()) {
      return Paths.get(home, "hub").toAbsolutePath().normalize();
    }
    return dataDir().resolve("hub");
  }

  public int maxProgressEntries() {
    return (int) range(MAX_PROGRESS_ENTRIES, 100, 1, 100_000);
  }

  public long progressCleanupIntervalSeconds() {
    return range(PROGRESS_CLEANUP_INTERVAL, 300, 1, 365L * 24 * 3600);
  }

  public String modelsFile() {
    return string(MODELS_FILE, "conf/models.json");
  }

  public String webroot() {
    return string(WEBROOT, "webroot");
  }

  public boolean mirrorEnabled() {
    return bool(MIRROR_ENABLED, true);
  }

  public Path mirrorDir() {
    String dir = string(MIRROR_DIR, null);
    return dir == null || dir.isBlank() ? dataDir().resolve("mirror") : Paths.get(dir).toAbsolutePath().normalize();
  }

  public boolean mirrorDemoModels() {
    return bool(MIRROR_DEMO_MODELS, true);
  }

  /** Where the "mirror" hub is; null means "this node's own gateway", filled in at deployment. */
  public String mirrorEndpoint() {
    String endpoint = string(MIRROR_ENDPOINT, null);
    return endpoint == null || endpoint.isBlank() ? null : stripSlash(endpoint);
  }

  /** 0 = unlimited. */
  public long downloadMaxBytesPerSecond() {
    return range(DOWNLOAD_MAX_BYTES_PER_SECOND, 0, 0, Long.MAX_VALUE);
  }

  public int downloadRetries() {
    return (int) range(DOWNLOAD_RETRIES, 5, 0, 100);
  }

  /** The first retry's delay; each next one doubles, with jitter, up to 30 s. */
  public long retryBaseMs() {
    return range(DOWNLOAD_RETRY_BASE_MS, 1000, 1, 60_000);
  }

  public int downloadStallSeconds() {
    return (int) range(DOWNLOAD_STALL_SECONDS, 30, 1, 3600);
  }

  public long progressIntervalMs() {
    return range(PROGRESS_INTERVAL_MS, 200, 10, 10_000);
  }

  public long requestTimeoutMs() {
    return range(REQUEST_TIMEOUT_MS, 10_000, 100, 600_000);
  }

  public long memoryHeadroomBytes() {
    return range(MEMORY_HEADROOM_MB, 256, 0, 1L << 30) * 1024 * 1024;
  }

  /** 0 = no cap beyond what the system reports. */
  public long memoryLimitBytes() {
    return range(MEMORY_LIMIT_MB, 0, 0, 1L << 40) * 1024 * 1024;
  }

  public String nativeLlmUrl() {
    String url = string(NATIVE_LLM_URL, null);
    return url == null || url.isBlank() ? null : stripSlash(url);
  }

  public String stingLlmScript() {
    String script = string(STING_LLM_SCRIPT, null);
    return script == null || script.isBlank() ? null : script;
  }

  public String nativeCommand() {
    String command = string(NATIVE_COMMAND, null);
    return command == null || command.isBlank() ? null : command;
  }

  /** Operations that run at once; the others wait in the queue. */
  public int maxConcurrent() {
    return (int) range(MAX_CONCURRENT, 2, 1, 64);
  }

  /** The seed's limits by model size: under 2 GB, 2–8 GB, over 8 GB. */
  public long timeoutSeconds(long modelBytes) {
    if (modelBytes < 2_000_000_000L) {
      return range(TIMEOUT_SMALL_SECONDS, 300, 1, 7L * 24 * 3600);
    }
    if (modelBytes <= 8_000_000_000L) {
      return range(TIMEOUT_MEDIUM_SECONDS, 900, 1, 7L * 24 * 3600);
    }
    return range(TIMEOUT_LARGE_SECONDS, 1800, 1, 7L * 24 * 3600);
  }

  /** Webhook URLs: a JSON array in the file, or a comma-separated list in the environment. */
  public java.util.List<String> webhooks() {
    Object value = json.getValue(WEBHOOKS);
    java.util.List<String> urls = new java.util.ArrayList<>();
    if (value instanceof io.vertx.core.json.JsonArray) {
      ((io.vertx.core.json.JsonArray) value).forEach(v -> urls.add(String.valueOf(v).trim()));
    } else if (value != null) {
      for (String part : String.valueOf(value).split(",")) {
        if (!part.isBlank()) {
          urls.add(part.trim());
        }
      }
    }
    for (String url : urls) {
      if (!url.startsWith("http://") && !url.startsWith("https://")) {
        throw new IllegalArgumentException("configuration " + WEBHOOKS + " must hold http(s) URLs, not '" + url + "'");
      }
    }
    return urls;
  }

  /** The bearer token clients must present; never logged. Null when unset. */
  public String apiToken() {
    String token = string(API_TOKEN, null);
    return token == null || token.isBlank() ? null : token.trim();
  }

  /** With a token set: whether reads (GET, the WebSocket) need it too. */
  public boolean protectReads() {
    return bool(PROTECT_READS, false);
  }

  public boolean allowInsecure() {
    return bool(ALLOW_INSECURE, false);
  }

  /** Origins allowed to open the WebSocket besides the page's own; comma-separated. */
  public java.util.List<String> allowedOrigins() {
    java.util.List<String> origins = new java.util.ArrayList<>();
    Object value = json.getValue(ALLOWED_ORIGINS);
    if (value instanceof io.vertx.core.json.JsonArray) {
      ((io.vertx.core.json.JsonArray) value).forEach(v -> origins.add(String.valueOf(v).trim()));
    } else if (value != null) {
      for (String part : String.valueOf(value).split(",")) {
        if (!part.isBlank()) {
          origins.add(part.trim());
        }
      }
    }
    return origins;
  }

  public int wsMaxConnections() {
    return (int) range(WS_MAX_CONNECTIONS, 10_000, 1, 1_000_000);
  }

  public int wsMaxSubscriptions() {
    return (int) range(WS_MAX_SUBSCRIPTIONS, 256, 1, 100_000);
  }

  public int wsMaxMessageBytes() {
    return (int) range(WS_MAX_MESSAGE_BYTES, 4096, 128, 1 << 20);
  }

  /** No frame from a client for this long (pings are sent at a third of it) → closed. */
  public int wsIdleSeconds() {
    return (int) range(WS_IDLE_SECONDS, 60, 3, 3600);
  }

  /** A slow subscriber whose unsent data stays above this is disconnected. */
  public int wsMaxQueuedBytes() {
    return (int) range(WS_MAX_QUEUED_BYTES, 1 << 20, 1024, 1 << 30);
  }

  /** POST /api/llm/load per client address and minute; 0 = no limit. */
  public int loadRatePerMinute() {
    return (int) range(LOAD_RATE_PER_MINUTE, 60, 0, 1_000_000);
  }

  public String tlsCert() {
    String v = string(TLS_CERT, null);
    return v == null || v.isBlank() ? null : v;
  }

  public String tlsKey() {
    String v = string(TLS_KEY, null);
    return v == null || v.isBlank() ? null : v;
  }

  public boolean tlsSelfSigned() {
    return bool(TLS_SELF_SIGNED, false);
  }

  /** The preload list as load requests; a JSON array in the file, comma-separated names in the environment. */
  public java.util.List<JsonObject> preload() {
    Object value = json.getValue(PRELOAD);
    java.util.List<JsonObject> out = new java.util.ArrayList<>();
    if (value instanceof io.vertx.core.json.JsonArray) {
      for (Object item : (io.vertx.core.json.JsonArray) value) {
        if (item instanceof JsonObject) {
          out.add(((JsonObject) item).copy());
        } else if (item instanceof String) {
          out.add(new JsonObject().put("model_name", item));
        } else {
          throw new IllegalArgumentException("configuration " + PRELOAD + " entries must be model names or {\"model_name\": ...} objects");
        }
      }
    } else if (value != null) {
      for (String part : String.valueOf(value).split(",")) {
        if (!part.isBlank()) {
          out.add(new JsonObject().put("model_name", part.trim()));
        }
      }
    }
    return out;
  }

  /** Milliseconds, or -1 for forever. */
  public long keepAliveMs() {
    Object value = json.getValue(KEEP_ALIVE);
    return value == null ? -1 : parseDurationMs(KEEP_ALIVE, value);
  }

  public boolean evictForMemory() {
    return bool(EVICT_FOR_MEMORY, false);
  }

  /** "30s", "10m", "2h", "1d", a number of seconds, or -1 (forever) → milliseconds (-1 stays -1). */
  public static long parseDurationMs(String what, Object value) {
    String text = String.valueOf(value).trim().toLowerCase(java.util.Locale.ROOT);
    try {
      if (text.equals("-1")) {
        return -1;
      }
      long unit = 1000;
      if (text.endsWith("ms")) {
        unit = 1;
        text = text.substring(0, text.length() - 2);
      } else if (text.endsWith("s")) {
        text = text.substring(0, text.length() - 1);
      } else if (text.endsWith("m")) {
        unit = 60_000;
        text = text.substring(0, text.length() - 1);
      } else if (text.endsWith("h")) {
        unit = 3_600_000;
        text = text.substring(0, text.length() - 1);
      } else if (text.endsWith("d")) {
        unit = 86_400_000;
        text = text.substring(0, text.length() - 1);
      }
      double n = Double.parseDouble(text.trim());
      if (n < 0 || Double.isNaN(n) || Double.isInfinite(n)) {
        throw new NumberFormatException();
      }
      return (long) (n * unit);
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(what + " must be a duration like 30s, 10m, 2h, a number of seconds, or -1 (forever), not '" + value + "'");
    }
  }

  public boolean offline() {
    return bool(OFFLINE, false);
  }

  public int webhookRetries() {
    return (int) range(WEBHOOK_RETRIES, 3, 0, 20);
  }

  public long webhookRetryBaseMs() {
    return range(WEBHOOK_RETRY_BASE_MS, 1000, 1, 60_000);
  }

  public long persistIntervalMs() {
    return range(PERSIST_INTERVAL_MS, 250, 10, 10_000);
  }

  // ------------------------------------------------------------------ load stage: native services
  // (own block: the load stage's keys; Hoist.loadConfig reads them from the environment once they
  // are part of ENV_KEYS, see LOAD_ENV_KEYS)

  /** Seconds a native service may take to become ready for a model under 2 GB. */
  public static final String NATIVE_TIMEOUT_SMALL_SECONDS = "HOIST_NATIVE_TIMEOUT_SMALL_SECONDS";
  /** ... for a model of 2–8 GB. */
  public static final String NATIVE_TIMEOUT_MEDIUM_SECONDS = "HOIST_NATIVE_TIMEOUT_MEDIUM_SECONDS";
  /** ... for a model over 8 GB. */
  public static final String NATIVE_TIMEOUT_LARGE_SECONDS = "HOIST_NATIVE_TIMEOUT_LARGE_SECONDS";
  /** Milliseconds a native service's processes get between SIGTERM and SIGKILL when it is stopped. */
  public static final String NATIVE_KILL_GRACE_MS = "HOIST_NATIVE_KILL_GRACE_MS";
  /** Paging-in rate limit (0 = off), to watch the load bar move on a fast machine. */
  public static final String LOAD_MAX_BYTES_PER_SECOND = "HOIST_LOAD_MAX_BYTES_PER_SECOND";

  /** The load stage's keys that may come from the environment (to be merged into {@link #ENV_KEYS}). */
  public static final String[] LOAD_ENV_KEYS = {
      NATIVE_TIMEOUT_SMALL_SECONDS, NATIVE_TIMEOUT_MEDIUM_SECONDS, NATIVE_TIMEOUT_LARGE_SECONDS, NATIVE_KILL_GRACE_MS,
      LOAD_MAX_BYTES_PER_SECOND
  };

  /** The seed's "small models (< 2GB): 5 minutes". */
  public long nativeTimeoutSmallSeconds() {
    return range(NATIVE_TIMEOUT_SMALL_SECONDS, 300, 1, 24 * 3600);
  }

  /** The seed's "medium models (2-8GB): 15 minutes". */
  public long nativeTimeoutMediumSeconds() {
    return range(NATIVE_TIMEOUT_MEDIUM_SECONDS, 900, 1, 24 * 3600);
  }

  /** The seed's "large models (> 8GB): 30 minutes". */
  public long nativeTimeoutLargeSeconds() {
    return range(NATIVE_TIMEOUT_LARGE_SECONDS, 1800, 1, 24 * 3600);
  }

  public long nativeKillGraceMs() {
    return range(NATIVE_KILL_GRACE_MS, 5000, 0, 600_000);
  }

  /** 0 = unlimited. */
  public long loadMaxBytesPerSecond() {
    return range(LOAD_MAX_BYTES_PER_SECOND, 0, 0, Long.MAX_VALUE);
  }

  /** Checks the load stage's keys (called by the load verticle at deployment). */
  public HoistConfig validateLoad() {
    nativeTimeoutSmallSeconds();
    nativeTimeoutMediumSeconds();
    nativeTimeoutLargeSeconds();
    nativeKillGraceMs();
    loadMaxBytesPerSecond();
    return this;
  }

  // ------------------------------------------------------------------ download throughput (download stage)
  // Kept as one block: the download stage validates these itself when it starts.

  /** How many files of one operation are fetched at once. */
  public static final String DOWNLOAD_PARALLEL_FILES = "HOIST_DOWNLOAD_PARALLEL_FILES";
  /** How many connections one large file may use for its ranges at once. */
  public static final String DOWNLOAD_CONNECTIONS_PER_FILE = "HOIST_DOWNLOAD_CONNECTIONS_PER_FILE";
  /** How many download connections the whole stage may hold at once. */
  public static final String DOWNLOAD_MAX_CONNECTIONS = "HOIST_DOWNLOAD_MAX_CONNECTIONS";
  /** The size of the ranges a large file is split into; a file no larger than this is one stream. */
  public static final String DOWNLOAD_CHUNK_BYTES = "HOIST_DOWNLOAD_CHUNK_BYTES";
  /**
   * True (the default): file bodies are read over Hoist's own HTTP/1.1 connections, straight from
   * Netty's direct buffers to the file and the hash; false: through Vert.x's HTTP client, which copies
   * every body chunk to the heap first (docs/performance.md). The switch is there in case a hub's
   * answers trip the lean reader; any body it does not take (chunked, no length) goes to the client anyway.
   */
  public static final String DOWNLOAD_DIRECT = "HOIST_DOWNLOAD_DIRECT";
  /**
   * Extra range connections are opened for a large file only if its first connection brings less
   * than this many bytes per second (measured over its first range or first second): a connection
   * already that fast is not held back by the network, and splitting it would only add the CPU of
   * reading ranges back for the in-order hash. 0: always split.
   */
  public static final String DOWNLOAD_SPLIT_BELOW_BYTES_PER_SECOND = "HOIST_DOWNLOAD_SPLIT_BELOW_BYTES_PER_SECOND";

  /**
   * PEM certificates the hub client trusts instead of the system's (a private hub or mirror behind an
   * internal CA, as REQUESTS_CA_BUNDLE does for huggingface_hub). Host names are verified either way.
   */
  public static final String HUB_CA_FILE = "HOIST_HUB_CA_FILE";

  /** The keys above, for the environment overlay (see {@link #ENV_KEYS}). */
  public static final String[] DOWNLOAD_ENV_KEYS = {
      DOWNLOAD_PARALLEL_FILES, DOWNLOAD_CONNECTIONS_PER_FILE, DOWNLOAD_MAX_CONNECTIONS, DOWNLOAD_CHUNK_BYTES, DOWNLOAD_DIRECT,
      DOWNLOAD_SPLIT_BELOW_BYTES_PER_SECOND, HUB_CA_FILE
  };

  /** The CA bundle for the hubs, or null for the system's trust store. */
  public Path hubCaFile() {
    String file = string(HUB_CA_FILE, null);
    if (file == null || file.isBlank()) {
      return null;
    }
    Path path = Paths.get(file.trim()).toAbsolutePath();
    if (!java.nio.file.Files.isReadable(path)) {
      throw new IllegalArgumentException("configuration " + HUB_CA_FILE + ": " + path + " is not a readable file");
    }
    return path;
  }

  public int downloadParallelFiles() {
    return (int) range(DOWNLOAD_PARALLEL_FILES, 4, 1, 64);
  }

  public int downloadConnectionsPerFile() {
    return (int) range(DOWNLOAD_CONNECTIONS_PER_FILE, 4, 1, 32);
  }

  public int downloadMaxConnections() {
    return (int) range(DOWNLOAD_MAX_CONNECTIONS, 8, 1, 256);
  }

  public long downloadChunkBytes() {
    return range(DOWNLOAD_CHUNK_BYTES, 64L << 20, 64L << 10, 16L << 30);
  }

  public boolean downloadDirect() {
    return bool(DOWNLOAD_DIRECT, true);
  }

  public long downloadSplitBelowBytesPerSecond() {
    return range(DOWNLOAD_SPLIT_BELOW_BYTES_PER_SECOND, 300_000_000L, 0, 1L << 40);
  }

  // ------------------------------------------------------------------ cluster (docs/cluster.md)

  /** True: join a fleet of Hoist nodes over a Hazelcast-clustered event bus. */
  public static final String CLUSTER_ENABLED = "HOIST_CLUSTER_ENABLED";
  /** This node's name in the fleet: letters, digits, '.', '_' and '-'. Defaults to the host name. */
  public static final String NODE_NAME = "HOIST_NODE_NAME";
  /** The fleet's name: nodes only join members with the same name. */
  public static final String CLUSTER_NAME = "HOIST_CLUSTER_NAME";
  /** Members to join over TCP, comma-separated hosts or host:port (multicast is never used). */
  public static final String CLUSTER_MEMBERS = "HOIST_CLUSTER_MEMBERS";
  /** The address this node binds and announces for Hazelcast and the event bus. */
  public static final String CLUSTER_HOST = "HOIST_CLUSTER_HOST";
  /** Hazelcast's first port on this node (the next free one is taken when it is busy). */
  public static final String CLUSTER_PORT = "HOIST_CLUSTER_PORT";
  /** The event bus's TCP port (0 = any free port). */
  public static final String CLUSTER_BUS_PORT = "HOIST_CLUSTER_BUS_PORT";
  /** How often each node tells the fleet it is alive, with its resources and loaded models. */
  public static final String CLUSTER_HEARTBEAT_MS = "HOIST_CLUSTER_HEARTBEAT_MS";
  /** Silence after which a node counts as lost and its running operations show an error. */
  public static final String CLUSTER_NODE_TIMEOUT_MS = "HOIST_CLUSTER_NODE_TIMEOUT_MS";

  public static final String[] CLUSTER_ENV_KEYS = {
      CLUSTER_ENABLED, NODE_NAME, CLUSTER_NAME, CLUSTER_MEMBERS, CLUSTER_HOST, CLUSTER_PORT, CLUSTER_BUS_PORT,
      CLUSTER_HEARTBEAT_MS, CLUSTER_NODE_TIMEOUT_MS
  };

  public boolean clusterEnabled() {
    return bool(CLUSTER_ENABLED, false);
  }

  /** This node's name; the host name when not configured. */
  public String nodeName() {
    String configured = string(NODE_NAME, null);
    String name = configured == null || configured.isBlank() ? defaultNodeName() : configured.trim();
    if (!name.matches("[A-Za-z0-9._-]{1,64}")) {
      throw new IllegalArgumentException("configuration " + NODE_NAME + " must be 1-64 letters, digits, '.', '_' or '-', not '"
          + name + "'");
    }
    return name;
  }

  /**
   * Looked up once per JVM: {@code nodeName()} is read on event loops (validation, events), and
   * resolving the local host name may wait on DNS.
   */
  private static volatile String defaultNodeName;

  private static String defaultNodeName() {
    String known = defaultNodeName;
    if (known == null) {
      known = lookUpNodeName();
      defaultNodeName = known;
    }
    return known;
  }

  private static String lookUpNodeName() {
    String host = System.getenv("HOSTNAME");
    if (host == null || host.isBlank()) {
      try {
        host = java.net.InetAddress.getLocalHost().getHostName();
      } catch (java.io.IOException e) {
        host = "hoist";
      }
    }
    String cleaned = host.replaceAll("[^A-Za-z0-9._-]", "-");
    return cleaned.isEmpty() ? "hoist" : cleaned.substring(0, Math.min(64, cleaned.length()));
  }

  public String clusterName() {
    String name = string(CLUSTER_NAME, "hoist").trim();
    if (name.isEmpty()) {
      throw new IllegalArgumentException("configuration " + CLUSTER_NAME + " must not be empty");
    }
    return name;
  }

  /** Members to contact when joining; at least this node's own host. */
  public java.util.List<String> clusterMembers() {
    java.util.List<String> out = new java.util.ArrayList<>();
    Object value = json.getValue(CLUSTER_MEMBERS);
    Iterable<?> items = value instanceof io.vertx.core.json.JsonArray ? (io.vertx.core.json.JsonArray) value
        : value == null ? java.util.List.of() : java.util.Arrays.asList(String.valueOf(value).split(","));
    for (Object item : items) {
      String member = String.valueOf(item).trim();
      if (!member.isEmpty()) {
        if (!member.matches("[A-Za-z0-9._:\\[\\]-]+")) {
          throw new IllegalArgumentException("configuration " + CLUSTER_MEMBERS + ": '" + member + "' is not a host or host:port");
        }
        out.add(member);
      }
    }
    if (out.isEmpty()) {
      out.add(clusterHost());
    }
    return out;
  }

  public String clusterHost() {
    return string(CLUSTER_HOST, "127.0.0.1").trim();
  }

  public int clusterPort() {
    return (int) range(CLUSTER_PORT, 5701, 1, 65535);
  }

  public int clusterBusPort() {
    return (int) range(CLUSTER_BUS_PORT, 0, 0, 65535);
  }

  public long clusterHeartbeatMs() {
    return range(CLUSTER_HEARTBEAT_MS, 1000, 50, 60_000);
  }

  public long clusterNodeTimeoutMs() {
    long timeout = range(CLUSTER_NODE_TIMEOUT_MS, 5000, 200, 600_000);
    if (timeout < 2 * clusterHeartbeatMs()) {
      throw new IllegalArgumentException("configuration " + CLUSTER_NODE_TIMEOUT_MS + " (" + timeout
          + ") must be at least twice " + CLUSTER_HEARTBEAT_MS + " (" + clusterHeartbeatMs() + ")");
    }
    return timeout;
  }

  // ------------------------------------------------------------------ helpers

  private String string(String key, String def) {
    Object value = json.getValue(key);
    return value == null ? def : String.valueOf(value);
  }

  private boolean bool(String key, boolean def) {
    Object value = json.getValue(key);
    if (value == null) {
      return def;
    }
    if (value instanceof Boolean) {
      return (Boolean) value;
    }
    String s = String.valueOf(value).trim();
    if (s.equalsIgnoreCase("true") || s.equals("1")) {
      return true;
    }
    if (s.equalsIgnoreCase("false") || s.equals("0")) {
      return false;
    }
    throw new IllegalArgumentException("configuration " + key + " must be true or false, not '" + s + "'");
  }

  private long range(String key, long def, long min, long max) {
    Object value = json.getValue(key);
    if (value == null || String.valueOf(value).isBlank()) {
      return def;
    }
    long n;
    try {
      n = value instanceof Number ? ((Number) value).longValue() : Long.parseLong(String.valueOf(value).trim());
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("configuration " + key + " must be a whole number, not '" + value + "'");
    }
    if (n < min || n > max) {
      throw new IllegalArgumentException("configuration " + key + " must be between " + min + " and " + max + ", not " + n);
    }
    return n;
  }

  private static String stripSlash(String s) {
    String t = s.trim();
    while (t.endsWith("/")) {
      t = t.substring(0, t.length() - 1);
    }
    return t;
  }

  /** Checks every value once at startup, so a typo fails the deployment with a clear message. */
  public HoistConfig validate() {
    dataDir();
    httpPort();
    httpHost();
    hfEndpoint();
    maxProgressEntries();
    progressCleanupIntervalSeconds();
    mirrorEnabled();
    mirrorDemoModels();
    downloadMaxBytesPerSecond();
    downloadRetries();
    retryBaseMs();
    downloadStallSeconds();
    progressIntervalMs();
    requestTimeoutMs();
    memoryHeadroomBytes();
    memoryLimitBytes();
    maxConcurrent();
    timeoutSeconds(0);
    timeoutSeconds(4_000_000_000L);
    timeoutSeconds(9_000_000_000L);
    webhooks();
    webhookRetries();
    webhookRetryBaseMs();
    persistIntervalMs();
    protectReads();
    allowInsecure();
    wsMaxConnections();
    wsMaxSubscriptions();
    wsMaxMessageBytes();
    wsIdleSeconds();
    wsMaxQueuedBytes();
    loadRatePerMinute();
    tlsSelfSigned();
    preload();
    keepAliveMs();
    evictForMemory();
    hubCaFile();
    clusterEnabled();
    nodeName();
    clusterName();
    clusterMembers();
    clusterPort();
    clusterBusPort();
    clusterNodeTimeoutMs();
    if ((tlsCert() == null) != (tlsKey() == null)) {
      throw new IllegalArgumentException("configuration " + TLS_CERT + " and " + TLS_KEY + " go together: set both or neither");
    }
    return this;
  }
}
