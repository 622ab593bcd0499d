package dev.hoist.load;

import dev.hoist.format.TensorInfo;
import io.vertx.core.json.JsonObject;
import io.vertx.core.shareddata.Shareable;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * A model the load stage holds in memory, as an embedding application sees it: the summary and
 * the tensor index, with each tensor's bytes readable in place. Get one from {@link LoadedModels}.
 * Thread-safe; it may be kept after the model is unloaded, then {@link #isReleased()} is true and
 * no tensor data can be read through it any more.
 */
public final class LoadedModel implements Shareable {

  private final ResidentModel model;
  private final List<TensorView> tensors;

  LoadedModel(ResidentModel model) {
    this.model = model;
    List<TensorView> views = new ArrayList<>();
    for (Map.Entry<String, List<TensorInfo>> e : model.tensorsByFile.entrySet()) {
      for (TensorInfo t : e.getValue()) {
        views.add(new TensorView(model, e.getKey(), t));
      }
    }
    this.tensors = Collections.unmodifiableList(views);
  }

  /** {@code repo@commit}. */
  public String key() {
    return model.key;
  }

  public String repo() {
    return model.repo;
  }

  public String commit() {
    return model.commit;
  }

  /** {@code safetensors} or {@code gguf}. */
  public String format() {
    return model.format;
  }

  /** The summary the load reported (format, architecture, parameters, tensors, dtypes, ...). */
  public JsonObject summary() {
    return model.summary.copy();
  }

  public long bytesResident() {
    return model.bytes;
  }

  public Instant loadedAt() {
    return model.loadedAt;
  }

  /** True if a native service process holds the model; then tensor data cannot be read here. */
  public boolean isNative() {
    return model.isNative();
  }

  /** The native service's base URL, for a model a native service loaded. */
  public Optional<String> nativeUrl() {
    return model.isNative() ? Optional.of(model.nativeService.url()) : Optional.empty();
  }

  public boolean isReleased() {
    return model.isReleased();
  }

  /** Every tensor, file by file, each file's in offset order. */
  public List<TensorView> tensors() {
    return tensors;
  }

  public Optional<TensorView> tensor(String name) {
    return tensors.stream().filter(t -> t.name().equals(name)).findFirst();
  }

  @Override
  public String toString() {
    return "LoadedModel[" + model.key + ", " + tensors.size() + " tensors" + (isReleased() ? ", released" : "") + "]";
  }
}
