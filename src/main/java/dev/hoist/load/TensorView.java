package dev.hoist.load;

import dev.hoist.format.TensorInfo;
import java.nio.ByteBuffer;
import java.util.List;

/**
 * One tensor of a {@link LoadedModel}: its header facts and its bytes, straight from the mapping
 * Hoist paged in (no copy).
 *
 * <p>{@link #data()} is one read-only, little-endian view of the tensor. Hoist cuts its mappings
 * (about 1 GiB each) at tensor boundaries, so every tensor up to 2 GiB lies in one mapping and has
 * such a view; a larger tensor cannot be one {@code ByteBuffer} (int indexes) and is read with
 * {@link #chunks()} instead, which works for every tensor.
 *
 * <p>The shape is in the file's order: outermost first for safetensors, {@code ne[0]} first for GGUF.
 * Views stay valid after the model is unloaded (the mapping then lives until the views are
 * garbage), but no new view is handed out: {@code data()} then throws {@link IllegalStateException}.
 */
public final class TensorView {

  private final ResidentModel model;
  private final String file;
  private final TensorInfo info;

  TensorView(ResidentModel model, String file, TensorInfo info) {
    this.model = model;
    this.file = file;
    this.info = info;
  }

  public String name() {
    return info.name();
  }

  /** A safetensors dtype ({@code "BF16"}) or a ggml type ({@code "Q8_0"}). */
  public String dtype() {
    return info.dtype();
  }

  public long[] shape() {
    return info.shape();
  }

  public long elements() {
    return info.elements();
  }

  /** The weight file holding the tensor (its path in the model repo). */
  public String file() {
    return file;
  }

  /** Where the tensor's bytes start in {@link #file()}. */
  public long fileOffset() {
    return info.offset();
  }

  public long byteLength() {
    return info.length();
  }

  /**
   * The tensor's bytes: a read-only little-endian view of the mapping (a fresh one per call, so
   * threads do not share a position).
   *
   * @throws IllegalStateException if the model was unloaded, is served by a native process, or the
   *                               tensor spans mappings (over 2 GiB; use {@link #chunks()})
   */
  public ByteBuffer data() {
    return model.view(file, info);
  }

  /** The tensor's bytes as consecutive read-only views, one per mapping it lies in. */
  public List<ByteBuffer> chunks() {
    return model.pieces(file, info);
  }

  @Override
  public String toString() {
    return "TensorView[" + info + " in " + file + "]";
  }
}
