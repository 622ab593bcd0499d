package dev.hoist.format;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.function.Consumer;

/**
 * Writes a GGUF v3 file: add metadata and declare tensors, then {@link #write} streams the tensors'
 * data from a {@link DataSource}. Tensors are laid out in declaration order, each at an aligned
 * offset, with zero padding. Output is deterministic.
 *
 * <pre>{@code
 * new GgufWriter()
 *     .putString("general.architecture", "llama")
 *     .putU32("llama.context_length", 2048)
 *     .tensor("output_norm.weight", GgmlType.F32, 256)
 *     .write(path, DataSource.random(1));
 * }</pre>
 */
public final class GgufWriter {

  private record Declared(String name, GgmlType type, long[] dims, long elements, long bytes) {
  }

  /** Encoded values (type + payload) by key, in insertion order. */
  private final Map<String, byte[]> metadata = new LinkedHashMap<>();
  private final List<Declared> tensors = new ArrayList<>();
  private final Set<String> names = new HashSet<>();
  private int alignment = GgufFile.DEFAULT_ALIGNMENT;

  /** Sets the alignment (a power of two) and records it as {@code general.alignment}. */
  public GgufWriter alignment(int alignment) {
    if (alignment <= 0 || Integer.bitCount(alignment) != 1) {
      throw new IllegalArgumentException("alignment must be a power of two: " + alignment);
    }
    this.alignment = alignment;
    return putU32("general.alignment", alignment);
  }

  public GgufWriter putString(String key, String value) {
    return put(key, GgufFile.STRING, e -> e.string(value));
  }

  /** A u32; {@code value} must be in 0..2^32-1. */
  public GgufWriter putU32(String key, long value) {
    if (value < 0 || value > 0xffff_ffffL) {
      throw new IllegalArgumentException("not a u32: " + value);
    }
    return put(key, GgufFile.UINT32, e -> e.u32((int) value));
  }

  public GgufWriter putI32(String key, int value) {
    return put(key, GgufFile.INT32, e -> e.u32(value));
  }

  public GgufWriter putU64(String key, long value) {
    return put(key, GgufFile.UINT64, e -> e.u64(value));
  }

  public GgufWriter putF32(String key, float value) {
    return put(key, GgufFile.FLOAT32, e -> e.u32(Float.floatToIntBits(value)));
  }

  public GgufWriter putBool(String key, boolean value) {
    return put(key, GgufFile.BOOL, e -> e.write(value ? 1 : 0));
  }

  public GgufWriter putStrings(String key, List<String> values) {
    return put(key, GgufFile.ARRAY, e -> {
      e.u32(GgufFile.STRING);
      e.u64(values.size());
      values.forEach(e::string);
    });
  }

  public GgufWriter putF32s(String key, float[] values) {
    return put(key, GgufFile.ARRAY, e -> {
      e.u32(GgufFile.FLOAT32);
      e.u64(values.length);
      for (float v : values) {
        e.u32(Float.floatToIntBits(v));
      }
    });
  }

  public GgufWriter putI32s(String key, int[] values) {
    return put(key, GgufFile.ARRAY, e -> {
      e.u32(GgufFile.INT32);
      e.u64(values.length);
      for (int v : values) {
        e.u32(v);
      }
    });
  }

  /**
   * Declares the next tensor.
   *
   * @param dims 1 to 4 positive dimensions in ggml order: {@code ne[0]} (the row length) first,
   *             which must be a whole number of the type's blocks
   */
  public GgufWriter tensor(String name, GgmlType type, long... dims) {
    Objects.requireNonNull(type);
    if (name.getBytes(StandardCharsets.UTF_8).length > GgufFile.MAX_TENSOR_NAME || !names.add(name)) {
      throw new IllegalArgumentException("duplicate or too long tensor name '" + name + "'");
    }
    if (dims.length < 1 || dims.length > GgufFile.MAX_DIMS) {
      throw new IllegalArgumentException("tensor '" + name + "' needs 1 to 4 dimensions");
    }
    long elements = 1;
    for (long d : dims) {
      if (d <= 0) {
        throw new IllegalArgumentException("non-positive dimension in tensor '" + name + "'");
      }
      elements = Math.multiplyExact(elements, d);
    }
    if (dims[0] % type.blockSize() != 0) {
      throw new IllegalArgumentException("tensor '" + name + "': ne[0] " + dims[0] + " is not a multiple of "
          + type.blockSize());
    }
    tensors.add(new Declared(name, type, dims.clone(), elements, type.bytesFor(elements)));
    return this;
  }

  /** The tensors as they will be in the file, with absolute offsets. */
  public List<TensorInfo> layout() {
    long dataStart = GgufFile.alignUp(header().length, alignment);
    List<TensorInfo> out = new ArrayList<>(tensors.size());
    long offset = 0;
    for (Declared t : tensors) {
      out.add(new TensorInfo(t.name(), t.type().name(), t.dims(), dataStart + offset, t.bytes(), t.elements()));
      offset = GgufFile.alignUp(offset + t.bytes(), alignment);
    }
    return out;
  }

  /**
   * Writes the file, replacing any file at {@code file}.
   *
   * @return the file's length
   */
  public long write(Path file, DataSource source) throws IOException {
    byte[] header = header();
    try (FileChannel channel = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
        StandardOpenOption.TRUNCATE_EXISTING)) {
      TensorData data = new TensorData(channel, source);
      data.writeFully(ByteBuffer.wrap(header));
      data.pad(padding(header.length));
      for (TensorInfo t : layout()) {
        data.write(t, GgmlType.valueOf(t.dtype()).typeSize());
        data.pad(padding(t.length()));
      }
      return channel.size();
    }
  }

  private long padding(long length) {
    return GgufFile.alignUp(length, alignment) - length;
  }

  /** Everything before the data section's padding: magic, counts, metadata, tensor infos. */
  private byte[] header() {
    Encoder e = new Encoder();
    e.u32(GgufFile.MAGIC);
    e.u32(3);
    e.u64(tensors.size());
    e.u64(metadata.size());
    for (Map.Entry<String, byte[]> kv : metadata.entrySet()) {
      e.string(kv.getKey());
      e.writeBytes(kv.getValue());
    }
    long offset = 0;
    for (Declared t : tensors) {
      e.string(t.name());
      e.u32(t.dims().length);
      for (long d : t.dims()) {
        e.u64(d);
      }
      e.u32(t.type().id());
      e.u64(offset);
      offset = GgufFile.alignUp(offset + t.bytes(), alignment);
    }
    return e.toByteArray();
  }

  private GgufWriter put(String key, int type, Consumer<Encoder> value) {
    Objects.requireNonNull(key);
    Encoder e = new Encoder();
    e.u32(type);
    value.accept(e);
    metadata.put(key, e.toByteArray());
    return this;
  }

  /** Little-endian GGUF primitives into a growing byte array. */
  static final class Encoder extends ByteArrayOutputStream {
    void u32(int v) {
      for (int i = 0; i < 4; i++) {
        write(v >>> (8 * i));
      }
    }

    void u64(long v) {
      for (int i = 0; i < 8; i++) {
        write((int) (v >>> (8 * i)));
      }
    }

    void string(String s) {
      byte[] b = s.getBytes(StandardCharsets.UTF_8);
      u64(b.length);
      writeBytes(b);
    }
  }
}
