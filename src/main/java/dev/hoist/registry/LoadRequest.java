package dev.hoist.registry;

import static dev.hoist.contract.EventBusContract.*;

import dev.hoist.contract.ErrorCode;
import dev.hoist.contract.HoistException;
import dev.hoist.contract.ModelRef;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * A validated {@code POST /api/llm/load} body: the model name and the optional options. Anything
 * unknown or malformed is refused with a message naming the field, before an operation exists.
 */
final class LoadRequest {

  private static final Set<String> FIELDS = Set.of(MODEL_NAME, REVISION, INCLUDE, QUANTIZATION, FILE, MAX_BYTES_PER_SECOND, "priority", NODE, NODES);
  private static final Pattern QUANT = Pattern.compile("[A-Za-z0-9_]{1,32}");
  private static final Pattern GLOB = Pattern.compile("[A-Za-z0-9._*?\\[\\]/-]{1,200}");

  final String modelName;
  final String revision;
  /** Options for the download stage; empty when none were given. */
  final JsonObject options;
  /** Higher runs first when operations queue; default 0. */
  final int priority;

  private LoadRequest(String modelName, String revision, JsonObject options, int priority) {
    this.modelName = modelName;
    this.revision = revision;
    this.options = options;
    this.priority = priority;
  }

  static LoadRequest parse(JsonObject body) {
    JsonObject b = body == null ? new JsonObject() : body;
    for (String field : b.fieldNames()) {
      if (!FIELDS.contains(field)) {
        throw bad(field, "is not a known field (known: model_name, revision, include, quantization, file, max_bytes_per_second, priority, node, nodes)");
      }
    }
    Object rawName = b.getValue(MODEL_NAME);
    if (!(rawName instanceof String) || ((String) rawName).isBlank()) {
      throw new HoistException(ErrorCode.BAD_REQUEST, "model_name is required: a catalog alias or a hub repo id owner/name");
    }
    String modelName = ((String) rawName).trim();
    if (modelName.length() > 256) {
      throw new HoistException(ErrorCode.INVALID_MODEL_NAME, "model_name is too long (" + modelName.length() + " characters, at most 256)");
    }
    String revision = null;
    if (b.containsKey(REVISION)) {
      Object r = b.getValue(REVISION);
      if (!(r instanceof String) || !ModelRef.validRevision((String) r)) {
        throw bad(REVISION, "must be a branch, tag or commit name");
      }
      revision = (String) r;
    }
    JsonObject options = new JsonObject();
    if (b.containsKey(INCLUDE)) {
      Object inc = b.getValue(INCLUDE);
      if (!(inc instanceof JsonArray) || ((JsonArray) inc).isEmpty() || ((JsonArray) inc).size() > 32) {
        throw bad(INCLUDE, "must be a list of 1 to 32 glob patterns, like [\"*.safetensors\", \"config.json\"]");
      }
      for (Object pattern : (JsonArray) inc) {
        if (!(pattern instanceof String) || !GLOB.matcher((String) pattern).matches() || ((String) pattern).contains("..")) {
          throw bad(INCLUDE, "has an invalid pattern '" + ModelRef.abbreviate(String.valueOf(pattern)) + "'");
        }
      }
      options.put(INCLUDE, ((JsonArray) inc).copy());
    }
    if (b.containsKey(QUANTIZATION)) {
      Object q = b.getValue(QUANTIZATION);
      if (!(q instanceof String) || !QUANT.matcher((String) q).matches()) {
        throw bad(QUANTIZATION, "must be a GGUF quantization name like Q4_K_M");
      }
      options.put(QUANTIZATION, q);
    }
    if (b.containsKey(FILE)) {
      Object f = b.getValue(FILE);
      if (!(f instanceof String) || ((String) f).isEmpty() || ((String) f).length() > 256 || ((String) f).contains("..")
          || ((String) f).startsWith("/") || ((String) f).contains("\\")) {
        throw bad(FILE, "must be a file name of the repo, like model.Q4_K_M.gguf");
      }
      options.put(FILE, f);
    }
    if (b.containsKey(MAX_BYTES_PER_SECOND)) {
      Object m = b.getValue(MAX_BYTES_PER_SECOND);
      if (!(m instanceof Number) || ((Number) m).longValue() < 1024 || m instanceof Double || m instanceof Float) {
        throw bad(MAX_BYTES_PER_SECOND, "must be a whole number of bytes per second, at least 1024");
      }
      options.put(MAX_BYTES_PER_SECOND, ((Number) m).longValue());
    }
    if (b.containsKey(NODE) && !(b.getValue(NODE) instanceof String)) {
      throw bad(NODE, "must be a node name (see GET /api/llm/nodes)");
    }
    if (b.containsKey(NODE) && b.containsKey(NODES)) {
      throw bad(NODES, "and node cannot be given together: node names one node, nodes several");
    }
    int priority = 0;
    if (b.containsKey("priority")) {
      Object p = b.getValue("priority");
      if (!(p instanceof Integer) || (Integer) p < -100 || (Integer) p > 100) {
        throw bad("priority", "must be a whole number from -100 to 100 (higher runs first)");
      }
      priority = (Integer) p;
    }
    return new LoadRequest(modelName, revision, options, priority);
  }

  private static HoistException bad(String field, String problem) {
    return new HoistException(ErrorCode.BAD_REQUEST, field + " " + problem);
  }
}
