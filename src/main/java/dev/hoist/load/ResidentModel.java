package dev.hoist.load;

import dev.hoist.format.TensorInfo;
import io.vertx.core.json.JsonObject;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A loaded model: either its tensor data mapped and paged into this process, or a native service
 * process that loaded it. It stays resident until {@link #release()}d.
 *
 * <p>The load verticle owns it on its event loop; an embedding application reads tensor bytes
 * from other threads through {@link LoadedModel}, so the handful of methods that touch the
 * mappings are synchronized: a view is never handed out after release, and a mapping is never
 * unmapped while a view of it may still be used.
 */
final class ResidentModel {

  final String key;
  final String repo;
  final String commit;
  final String format;
  final long bytes;
  final JsonObject summary;
  final Instant loadedAt;
  /** Last load, reload or touch: what keep-alive measures idleness from. */
  Instant lastUsed = Instant.now();
  /** Milliseconds it may stay unused before it is unloaded; -1 = forever. */
  long keepAliveMs = -1;
  /** Never unloaded by keep-alive or eviction (only by an explicit unload). */
  boolean pinned;
  /** Tensors by weight file name, each list by offset. */
  final Map<String, List<TensorInfo>> tensorsByFile;
  /** Null for a model paged into this process. */
  final NativeService nativeService;
  private final List<Mapping> mappings;
  private boolean released;
  /** Once a view went out, only the garbage collector may unmap (it knows when the views are gone). */
  private boolean viewsHandedOut;

  private ResidentModel(String key, String repo, String commit, ModelInspector.Plan plan, List<Mapping> mappings,
      long bytes, JsonObject summary, NativeService nativeService) {
    this.key = key;
    this.repo = repo;
    this.commit = commit;
    this.format = plan.format;
    this.bytes = bytes;
    this.summary = summary;
    this.loadedAt = Instant.now();
    Map<String, List<TensorInfo>> byFile = new LinkedHashMap<>();
    plan.regions.forEach(r -> byFile.put(r.name, r.tensors));
    this.tensorsByFile = byFile;
    this.mappings = new ArrayList<>(mappings);
    this.nativeService = nativeService;
  }

  static ResidentModel mapped(String key, String repo, String commit, ModelInspector.Plan plan, List<Mapping> mappings,
      JsonObject summary) {
    long bytes = mappings.stream().mapToLong(Mapping::length).sum();
    return new ResidentModel(key, repo, commit, plan, mappings, bytes, summary, null);
  }

  static ResidentModel served(String key, String repo, String commit, ModelInspector.Plan plan, NativeService service,
      JsonObject summary) {
    return new ResidentModel(key, repo, commit, plan, List.of(), plan.bytes(), summary, service);
  }

  boolean isNative() {
    return nativeService != null;
  }

  synchronized boolean isReleased() {
    return released;
  }

  synchronized int mappingCount() {
    return mappings.size();
  }

  /** A read-only little-endian view of one tensor's bytes, if it lies inside one mapping. */
  synchronized ByteBuffer view(String file, TensorInfo tensor) {
    checkReadable();
    for (Mapping m : mappings) {
      if (m.file().equals(file) && m.contains(tensor.offset(), tensor.end())) {
        viewsHandedOut = true;
        return slice(m, tensor.offset(), tensor.length());
      }
    }
    throw new IllegalStateException("tensor '" + tensor.name() + "' (" + tensor.length()
        + " bytes) spans more than one mapping; read it with chunks()");
  }

  /** The tensor's bytes as consecutive read-only views, one per mapping it touches. */
  synchronized List<ByteBuffer> pieces(String file, TensorInfo tensor) {
    checkReadable();
    List<ByteBuffer> out = new ArrayList<>();
    for (Mapping m : mappings) {
      long from = Math.max(m.offset(), tensor.offset());
      long to = Math.min(m.offset() + m.length(), tensor.end());
      if (m.file().equals(file) && from < to) {
        out.add(slice(m, from, to - from));
      }
    }
    if (out.isEmpty() && tensor.length() > 0) {
      throw new IllegalStateException("tensor '" + tensor.name() + "' is not mapped");
    }
    viewsHandedOut |= !out.isEmpty();
    return out;
  }

  private void checkReadable() {
    if (released) {
      throw new IllegalStateException("model " + key + " was unloaded");
    }
    if (nativeService != null) {
      throw new IllegalStateException("model " + key + " is loaded by a native service (pid " + nativeService.pid()
          + "), not in this process");
    }
  }

  private static ByteBuffer slice(Mapping m, long fileOffset, long length) {
    int index = Math.toIntExact(fileOffset - m.offset());
    return m.buffer().slice(index, Math.toIntExact(length)).asReadOnlyBuffer().order(ByteOrder.LITTLE_ENDIAN);
  }

  /**
   * Drops this process's hold on the model and says how many bytes that released. Mappings are
   * unmapped at once unless a view of them went out to an embedding application, in which case the
   * garbage collector unmaps them once those views are unreachable (unmapping under a live view
   * would crash the JVM). A native service is stopped by the caller.
   */
  synchronized long release() {
    if (released) {
      return 0;
    }
    released = true;
    if (!viewsHandedOut) {
      mappings.forEach(m -> Unmapper.unmap(m.buffer()));
    }
    mappings.clear();
    return bytes;
  }

  /** Whether {@link #release()} could unmap at once (for the log). */
  synchronized boolean unmapsAtOnce() {
    return !viewsHandedOut && Unmapper.available();
  }

  JsonObject toJson() {
    JsonObject json = new JsonObject()
        .put("model_key", key)
        .put("repo", repo)
        .put("commit", commit)
        .put("bytes_resident", bytes)
        .put("loaded_at", loadedAt.toString())
        .put("last_used", lastUsed.toString())
        .put("idle_seconds", java.time.Duration.between(lastUsed, Instant.now()).getSeconds())
        .put("keep_alive_seconds", keepAliveMs < 0 ? -1 : keepAliveMs / 1000.0)
        .put("pinned", pinned)
        .put("summary", summary.copy());
    if (nativeService != null) {
      json.put("native", nativeService.toJson());
    }
    return json;
  }
}
