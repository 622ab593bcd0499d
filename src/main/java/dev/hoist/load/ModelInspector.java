package dev.hoist.load;

import dev.hoist.contract.ErrorCode;
import dev.hoist.contract.HoistException;
import dev.hoist.format.GgufFile;
import dev.hoist.format.ModelFormatException;
import dev.hoist.format.SafetensorsFile;
import dev.hoist.format.TensorInfo;
import io.vertx.core.json.DecodeException;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * Validates a downloaded model's weight files strictly, before any tensor data is touched, and
 * says which byte ranges hold tensor data. Blocking: runs on a worker.
 */
final class ModelInspector {

  private static final long MAX_CONFIG_BYTES = 4 << 20;
  static final String INDEX_FILE = "model.safetensors.index.json";

  /** A byte range of a file to bring into memory: the file's tensor data, which runs to its end. */
  static final class Region {
    final Path file;
    final String name;
    final long offset;
    final long length;
    /** The tensors of this file, by offset; mappings are cut at their boundaries. */
    final List<TensorInfo> tensors;

    Region(Path file, String name, long offset, long length, List<TensorInfo> tensors) {
      this.file = file;
      this.name = name;
      this.offset = offset;
      this.length = length;
      List<TensorInfo> sorted = new ArrayList<>(tensors);
      sorted.sort(java.util.Comparator.comparingLong(TensorInfo::offset));
      this.tensors = List.copyOf(sorted);
    }

    /** The whole file's size: header and data (what a native service reads). */
    long fileSize() {
      return offset + length;
    }
  }

  /** What validation found: the regions to page in and the model's summary. */
  static final class Plan {
    final String format;
    final List<Region> regions = new ArrayList<>();
    final Map<String, Long> dtypes = new TreeMap<>();
    final List<TensorInfo> tensors = new ArrayList<>();
    long parameters;
    String architecture;
    Long contextLength;

    Plan(String format) {
      this.format = format;
    }

    long bytes() {
      return regions.stream().mapToLong(r -> r.length).sum();
    }

    /** Bytes of the weight files, headers included. */
    long fileBytes() {
      return regions.stream().mapToLong(Region::fileSize).sum();
    }

    JsonObject summary(long bytesResident) {
      JsonObject dt = new JsonObject();
      dtypes.forEach(dt::put);
      return new JsonObject()
          .put("format", format)
          .put("architecture", architecture)
          .put("parameters", parameters)
          .put("tensors", tensors.size())
          .put("dtypes", dt)
          .put("files", regions.size())
          .put("bytes_resident", bytesResident)
          .put("context_length", contextLength);
    }
  }

  private ModelInspector() {
  }

  /** {@code files}: the download's {@code [{path, size, local_path}]}. */
  static Plan inspect(JsonArray files) throws IOException {
    Map<String, Path> byName = new TreeMap<>();
    for (int i = 0; i < files.size(); i++) {
      JsonObject f = files.getJsonObject(i);
      byName.put(f.getString("path"), Path.of(f.getString("local_path")));
    }
    List<String> safetensors = new ArrayList<>();
    List<String> ggufs = new ArrayList<>();
    for (String name : byName.keySet()) {
      String lower = name.toLowerCase(Locale.ROOT);
      if (lower.endsWith(".safetensors")) {
        safetensors.add(name);
      } else if (lower.endsWith(".gguf")) {
        ggufs.add(name);
      }
    }
    Plan plan;
    if (!safetensors.isEmpty()) {
      plan = new Plan("safetensors");
      Map<String, String> tensorToShard = new HashMap<>();
      for (String name : safetensors) {
        SafetensorsFile st = read(name, () -> SafetensorsFile.read(byName.get(name)));
        add(plan, st.tensors(), st.dtypes(), st.parameterCount());
        st.tensors().forEach(t -> tensorToShard.put(t.name(), name));
        plan.regions.add(new Region(byName.get(name), name, st.dataStart(), st.fileLength() - st.dataStart(), st.tensors()));
      }
      if (byName.containsKey(INDEX_FILE)) {
        checkIndex(byName.get(INDEX_FILE), tensorToShard, new HashSet<>(safetensors));
      } else if (safetensors.size() > 1) {
        throw invalid(INDEX_FILE + ": missing, but the model has " + safetensors.size() + " safetensors shards");
      }
      readConfig(byName.get("config.json"), plan);
    } else if (ggufs.size() == 1) {
      plan = new Plan("gguf");
      String name = ggufs.get(0);
      GgufFile gguf = read(name, () -> GgufFile.read(byName.get(name)));
      add(plan, gguf.tensors(), gguf.dtypes(), gguf.parameterCount());
      plan.architecture = gguf.architecture();
      plan.contextLength = gguf.contextLength();
      plan.regions.add(new Region(byName.get(name), name, gguf.dataStart(), gguf.fileLength() - gguf.dataStart(), gguf.tensors()));
    } else {
      throw new HoistException(ErrorCode.NO_MODEL_FILES, ggufs.isEmpty()
          ? "the download holds no *.safetensors or *.gguf file to load"
          : "the download holds " + ggufs.size() + " GGUF files; Hoist loads one");
    }
    return plan;
  }

  private static void add(Plan plan, List<TensorInfo> tensors, Map<String, Long> dtypes, long parameters) {
    plan.tensors.addAll(tensors);
    dtypes.forEach((k, v) -> plan.dtypes.merge(k, v, Long::sum));
    plan.parameters += parameters;
  }

  /** The index must name exactly the tensors the shards hold, each in the shard that holds it. */
  private static void checkIndex(Path index, Map<String, String> tensorToShard, Set<String> shards) throws IOException {
    JsonObject json = readJson(index, INDEX_FILE);
    JsonObject weightMap = json.getJsonObject("weight_map");
    if (weightMap == null) {
      throw invalid(INDEX_FILE + ": no weight_map object");
    }
    for (Map.Entry<String, Object> e : weightMap) {
      if (!(e.getValue() instanceof String)) {
        throw invalid(INDEX_FILE + ": tensor '" + e.getKey() + "': shard name is not a string");
      }
      String shard = (String) e.getValue();
      if (!shards.contains(shard)) {
        throw invalid(INDEX_FILE + ": tensor '" + e.getKey() + "': names shard '" + shard + "', which is not part of the model");
      }
      String actual = tensorToShard.get(e.getKey());
      if (!shard.equals(actual)) {
        throw invalid(INDEX_FILE + ": tensor '" + e.getKey() + "': listed in " + shard + " but "
            + (actual == null ? "no shard holds it" : "it is in " + actual));
      }
    }
    for (Map.Entry<String, String> e : tensorToShard.entrySet()) {
      if (!weightMap.containsKey(e.getKey())) {
        throw invalid(INDEX_FILE + ": tensor '" + e.getKey() + "' of " + e.getValue() + " is missing from weight_map");
      }
    }
  }

  /** Architecture and context length from config.json, when there is one. */
  private static void readConfig(Path config, Plan plan) throws IOException {
    if (config == null) {
      return;
    }
    JsonObject json = readJson(config, "config.json");
    JsonArray architectures = json.getValue("architectures") instanceof JsonArray ? json.getJsonArray("architectures") : null;
    Object modelType = json.getValue("model_type");
    if (modelType instanceof String) {
      plan.architecture = (String) modelType;
    } else if (architectures != null && !architectures.isEmpty() && architectures.getValue(0) instanceof String) {
      plan.architecture = architectures.getString(0);
    }
    Object context = json.getValue("max_position_embeddings");
    if (context instanceof Number) {
      plan.contextLength = ((Number) context).longValue();
    }
  }

  private static JsonObject readJson(Path file, String name) throws IOException {
    if (Files.size(file) > MAX_CONFIG_BYTES) {
      throw invalid(name + ": larger than " + (MAX_CONFIG_BYTES >> 20) + " MiB");
    }
    try {
      return new JsonObject(Files.readString(file, StandardCharsets.UTF_8));
    } catch (DecodeException | ClassCastException e) {
      throw invalid(name + ": not a JSON object");
    }
  }

  private interface Reader<T> {
    T read() throws IOException, ModelFormatException;
  }

  private static <T> T read(String name, Reader<T> reader) throws IOException {
    try {
      return reader.read();
    } catch (ModelFormatException e) {
      throw invalid(e.getMessage());
    }
  }

  private static HoistException invalid(String message) {
    return new HoistException(ErrorCode.INVALID_MODEL_FILE, "invalid model file " + message);
  }
}
