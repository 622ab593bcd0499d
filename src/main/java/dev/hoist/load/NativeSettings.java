package dev.hoist.load;

import dev.hoist.HoistConfig;
import dev.hoist.contract.ErrorCode;
import dev.hoist.contract.HoistException;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.net.URI;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

/**
 * How to hand one model to a native LLM service, from the catalog entry's {@code native} object
 * (passed through in {@code load.start}) and the global configuration:
 *
 * <ul>
 *   <li>{@code command}: a template string (see {@link CommandTemplate}) or an array of arguments;
 *       else {@code HOIST_NATIVE_COMMAND}; else {@code $STING_LLM_SCRIPT load {model}}.</li>
 *   <li>{@code health_url}: polled until it answers 200; else {@code NATIVE_LLM_URL/health} (and then
 *       {@code {port}} is that URL's port); else {@code http://127.0.0.1:{port}/health} unless a
 *       {@code ready_pattern} is given.</li>
 *   <li>{@code ready_pattern}: a regular expression; an output line containing a match means ready.</li>
 *   <li>{@code progress_pattern}: a regular expression whose group 1 is a percentage the service
 *       prints; when it matches, that is the progress instead of the bytes read.</li>
 *   <li>{@code timeout_seconds}: else by model size, as in the seed (5 / 15 / 30 min).</li>
 * </ul>
 *
 * Without a {@code native} object and without a global command the model loads in-process.
 */
final class NativeSettings {

  static final String DEFAULT_PROGRESS_PATTERN = "(?i)\\b(?:progress|loaded|loading)\\b\\D{0,20}?(\\d{1,3}(?:\\.\\d+)?)\\s*%";
  static final long GB = 1_000_000_000L;

  final List<String> command;
  /** Template (placeholders allowed), or null when readiness comes from the output only. */
  final String healthUrl;
  final Pattern readyPattern;
  final Pattern progressPattern;
  /** The port to give the service when NATIVE_LLM_URL fixes it; else 0 (pick a free one). */
  final int fixedPort;
  private final Long timeoutSeconds;

  private NativeSettings(List<String> command, String healthUrl, Pattern readyPattern, Pattern progressPattern,
      int fixedPort, Long timeoutSeconds) {
    this.command = command;
    this.healthUrl = healthUrl;
    this.readyPattern = readyPattern;
    this.progressPattern = progressPattern;
    this.fixedPort = fixedPort;
    this.timeoutSeconds = timeoutSeconds;
  }

  /** The settings for this load, or null to load in-process. */
  static NativeSettings resolve(Object nativeValue, HoistConfig config) {
    if (nativeValue != null && !(nativeValue instanceof JsonObject)) {
      throw bad("native must be an object, like {\"command\": \"llama-server -m {path} --port {port}\"}");
    }
    JsonObject nativeJson = (JsonObject) nativeValue;
    boolean global = config.nativeCommand() != null || config.stingLlmScript() != null;
    if (nativeJson == null && !global) {
      return null;
    }
    JsonObject n = nativeJson == null ? new JsonObject() : nativeJson;
    List<String> command = command(n.getValue("command"), config);
    Pattern ready = pattern(n, "ready_pattern", null);
    Pattern progress = pattern(n, "progress_pattern", DEFAULT_PROGRESS_PATTERN);
    String health = string(n, "health_url");
    int fixedPort = 0;
    if (health == null && config.nativeLlmUrl() != null) {
      URI base = URI.create(config.nativeLlmUrl());
      fixedPort = base.getPort() > 0 ? base.getPort() : "https".equalsIgnoreCase(base.getScheme()) ? 443 : 80;
      health = config.nativeLlmUrl() + "/health";
    } else if (health == null && ready == null) {
      health = "http://127.0.0.1:{port}/health";
    }
    Long timeout = null;
    Object t = n.getValue("timeout_seconds");
    if (t != null) {
      if (!(t instanceof Number) || ((Number) t).longValue() <= 0) {
        throw bad("native.timeout_seconds must be a positive number of seconds, not " + t);
      }
      timeout = ((Number) t).longValue();
    }
    return new NativeSettings(command, health, ready, progress, fixedPort, timeout);
  }

  /** The seed's timeouts: under 2 GB, 2–8 GB, over 8 GB; a per-model {@code timeout_seconds} wins. */
  long timeoutSeconds(long modelBytes, HoistConfig config) {
    if (timeoutSeconds != null) {
      return timeoutSeconds;
    }
    if (modelBytes < 2 * GB) {
      return config.nativeTimeoutSmallSeconds();
    }
    return modelBytes <= 8 * GB ? config.nativeTimeoutMediumSeconds() : config.nativeTimeoutLargeSeconds();
  }

  private static List<String> command(Object value, HoistConfig config) {
    List<String> tokens;
    if (value instanceof JsonArray) {
      tokens = new ArrayList<>();
      for (Object o : (JsonArray) value) {
        if (!(o instanceof String)) {
          throw bad("native.command must be a string or an array of strings");
        }
        tokens.add((String) o);
      }
    } else if (value instanceof String && !((String) value).isBlank()) {
      tokens = tokenize((String) value);
    } else if (value != null) {
      throw bad("native.command must be a string or an array of strings");
    } else if (config.nativeCommand() != null) {
      tokens = tokenize(config.nativeCommand());
    } else if (config.stingLlmScript() != null) {
      // the script path is one argument as configured, spaces and all
      tokens = List.of(config.stingLlmScript(), "load", "{model}");
    } else {
      throw bad("the model asks for a native service but no command is configured "
          + "(native.command, HOIST_NATIVE_COMMAND or STING_LLM_SCRIPT)");
    }
    if (tokens.isEmpty()) {
      throw bad("the native service command is empty");
    }
    return List.copyOf(tokens);
  }

  private static List<String> tokenize(String template) {
    try {
      return CommandTemplate.tokenize(template);
    } catch (IllegalArgumentException e) {
      throw bad("native service command: " + e.getMessage());
    }
  }

  private static Pattern pattern(JsonObject n, String key, String def) {
    String regex = string(n, key);
    if (regex == null) {
      return def == null ? null : Pattern.compile(def);
    }
    try {
      return Pattern.compile(regex);
    } catch (PatternSyntaxException e) {
      throw bad("native." + key + " is not a valid regular expression: " + e.getDescription());
    }
  }

  private static String string(JsonObject n, String key) {
    Object v = n.getValue(key);
    if (v != null && !(v instanceof String)) {
      throw bad("native." + key + " must be a string");
    }
    return v == null || ((String) v).isBlank() ? null : (String) v;
  }

  /** A configuration mistake: trying again does not help. */
  private static HoistException bad(String message) {
    return new HoistException(ErrorCode.NATIVE_SERVICE_FAILED, message, false, null);
  }
}
