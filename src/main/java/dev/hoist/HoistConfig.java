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

  /** Every key that may come from the environment. */
  public static final String[] ENV_KEYS = {
      DATA_DIR, HTTP_PORT, HTTP_HOST, HF_ENDPOINT, HF_TOKEN, HF_HUB_CACHE, HF_HOME,
      MAX_PROGRESS_ENTRIES, PROGRESS_CLEANUP_INTERVAL, MODELS_FILE, WEBROOT, MIRROR_ENABLED,
      MIRROR_DIR, MIRROR_DEMO_MODELS, MIRROR_ENDPOINT, DOWNLOAD_MAX_BYTES_PER_SECOND,
      DOWNLOAD_RETRIES, DOWNLOAD_RETRY_BASE_MS, DOWNLOAD_STALL_SECONDS, PROGRESS_INTERVAL_MS, REQUEST_TIMEOUT_MS,
      MEMORY_HEADROOM_MB, MEMORY_LIMIT_MB, NATIVE_LLM_URL, STING_LLM_SCRIPT, NATIVE_COMMAND
  };

  private final JsonObject json;

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
    return this;
  }
}
