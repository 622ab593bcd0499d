package dev.hoist.format;

import java.nio.ByteBuffer;

/**
 * Where a writer gets the bytes of each tensor from. A writer calls {@link #fill} for each tensor in
 * file order, with consecutive chunks from byte 0 to the tensor's length.
 */
@FunctionalInterface
public interface DataSource {

  /**
   * Puts the tensor's bytes {@code [position, position + dst.remaining())} into {@code dst}, filling
   * it completely. {@code dst} is little-endian; {@code position} and {@code dst.remaining()} are
   * always multiples of the tensor's unit: its element size, or its block size for quantized ggml
   * types.
   *
   * @param tensor the tensor being written, with the offset and length it will have in the file
   */
  void fill(TensorInfo tensor, long position, ByteBuffer dst);

  /**
   * Deterministic pseudo-random weights: small values around 0 (around 1 for tensors whose name
   * contains "norm"), encoded in the tensor's dtype. Bytes depend only on the seed, the tensor's
   * name and dtype and the position, never on chunking or on other tensors, so the same model is
   * the same bytes on every run.
   */
  static DataSource random(long seed) {
    return new RandomData(seed);
  }

  /** All zero bytes. */
  static DataSource zeros() {
    return (tensor, position, dst) -> {
      while (dst.remaining() >= 8) {
        dst.putLong(0);
      }
      while (dst.hasRemaining()) {
        dst.put((byte) 0);
      }
    };
  }
}
