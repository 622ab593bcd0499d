package dev.hoist.format;

import java.util.Arrays;
import java.util.Objects;

/**
 * One tensor of a model file, as its header describes it.
 *
 * <p>The shape is given in the file's own order: outermost dimension first for safetensors (PyTorch
 * order), innermost ({@code ne[0]}, the row length) first for GGUF (ggml order).
 *
 * @param name     tensor name
 * @param dtype    element type name: a safetensors dtype ({@code "BF16"}) or a ggml type ({@code "Q8_0"})
 * @param shape    dimensions; never modified by this record's users (the accessor returns a copy)
 * @param offset   absolute byte offset of the tensor's data in the file
 * @param length   size of the tensor's data in bytes
 * @param elements number of elements (product of the shape)
 */
public record TensorInfo(String name, String dtype, long[] shape, long offset, long length, long elements) {

  public TensorInfo {
    Objects.requireNonNull(name, "name");
    Objects.requireNonNull(dtype, "dtype");
    shape = shape.clone();
  }

  @Override
  public long[] shape() {
    return shape.clone();
  }

  /** Offset of the first byte after this tensor's data. */
  public long end() {
    return offset + length;
  }

  // Records compare arrays by identity; a tensor's shape is part of its value.
  @Override
  public boolean equals(Object o) {
    return o instanceof TensorInfo t
        && name.equals(t.name) && dtype.equals(t.dtype) && Arrays.equals(shape, t.shape)
        && offset == t.offset && length == t.length && elements == t.elements;
  }

  @Override
  public int hashCode() {
    return Objects.hash(name, dtype, Arrays.hashCode(shape), offset, length, elements);
  }

  @Override
  public String toString() {
    return "TensorInfo[name=" + name + ", dtype=" + dtype + ", shape=" + Arrays.toString(shape)
        + ", offset=" + offset + ", length=" + length + ", elements=" + elements + "]";
  }

  /** Total number of elements of {@code tensors}, overflow-checked. */
  public static long parameterCount(java.util.List<TensorInfo> tensors) {
    long n = 0;
    for (TensorInfo t : tensors) {
      n = Math.addExact(n, t.elements());
    }
    return n;
  }

  /** Number of tensors of each dtype, sorted by dtype name. */
  public static java.util.Map<String, Long> dtypeCounts(java.util.List<TensorInfo> tensors) {
    java.util.Map<String, Long> counts = new java.util.TreeMap<>();
    for (TensorInfo t : tensors) {
      counts.merge(t.dtype(), 1L, Long::sum);
    }
    return java.util.Collections.unmodifiableMap(counts);
  }
}
