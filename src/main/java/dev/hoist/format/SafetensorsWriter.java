package dev.hoist.format;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * Writes a safetensors file: declare the tensors (and optional {@code __metadata__}), then
 * {@link #write} streams their data from a {@link DataSource}. Tensors are laid out in the order they
 * are declared; the header is padded with spaces so that the data starts at a multiple of 8.
 * Output is deterministic: the same declarations and source give the same bytes.
 *
 * <pre>{@code
 * new SafetensorsWriter()
 *     .metadata("format", "pt")
 *     .tensor("model.norm.weight", SafetensorsDtype.F32, 256)
 *     .write(path, DataSource.random(1));
 * }</pre>
 */
public final class SafetensorsWriter {

  private static final JsonFactory JSON = new JsonFactory();

  private record Declared(String name, SafetensorsDtype dtype, long[] shape, long elements, long bytes) {
  }

  private final Map<String, String> metadata = new LinkedHashMap<>();
  private final List<Declared> tensors = new ArrayList<>();
  private final Set<String> names = new HashSet<>();

  /** Adds (or replaces) a {@code __metadata__} entry. */
  public SafetensorsWriter metadata(String key, String value) {
    metadata.put(Objects.requireNonNull(key), Objects.requireNonNull(value));
    return this;
  }

  /**
   * Declares the next tensor.
   *
   * @param shape dimensions, outermost first; none for a scalar
   * @throws IllegalArgumentException for a repeated or reserved name or a negative dimension
   * @throws ArithmeticException      if the size overflows
   */
  public SafetensorsWriter tensor(String name, SafetensorsDtype dtype, long... shape) {
    Objects.requireNonNull(dtype);
    if (name.equals("__metadata__") || !names.add(name)) {
      throw new IllegalArgumentException("duplicate or reserved tensor name '" + name + "'");
    }
    long elements = 1;
    for (long d : shape) {
      if (d < 0) {
        throw new IllegalArgumentException("negative dimension in tensor '" + name + "'");
      }
      elements = Math.multiplyExact(elements, d);
    }
    tensors.add(new Declared(name, dtype, shape.clone(), elements, Math.multiplyExact(elements, (long) dtype.size())));
    return this;
  }

  /** The tensors as they will be in the file, with absolute offsets. */
  public List<TensorInfo> layout() {
    long dataStart = 8 + header().length;
    List<TensorInfo> out = new ArrayList<>(tensors.size());
    long offset = 0;
    for (Declared t : tensors) {
      out.add(new TensorInfo(t.name(), t.dtype().name(), t.shape(), dataStart + offset, t.bytes(), t.elements()));
      offset += t.bytes();
    }
    return out;
  }

  /** Bytes of tensor data (the sum of tensor sizes). */
  public long dataLength() {
    long n = 0;
    for (Declared t : tensors) {
      n = Math.addExact(n, t.bytes());
    }
    return n;
  }

  /**
   * Writes the file, replacing any file at {@code file}.
   *
   * @return the file's length
   */
  public long write(Path file, DataSource source) throws IOException {
    byte[] header = header();
    ByteBuffer prefix = ByteBuffer.allocate(8 + header.length).order(ByteOrder.LITTLE_ENDIAN);
    prefix.putLong(header.length).put(header).flip();
    try (FileChannel channel = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
        StandardOpenOption.TRUNCATE_EXISTING)) {
      TensorData data = new TensorData(channel, source);
      data.writeFully(prefix);
      for (TensorInfo t : layout()) {
        data.write(t, SafetensorsDtype.valueOf(t.dtype()).size());
      }
      return channel.size();
    }
  }

  /** The JSON header, padded with spaces so that 8 + its length is a multiple of 8. */
  private byte[] header() {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    try (JsonGenerator g = JSON.createGenerator(out)) {
      g.writeStartObject();
      if (!metadata.isEmpty()) {
        g.writeObjectFieldStart("__metadata__");
        for (Map.Entry<String, String> e : metadata.entrySet()) {
          g.writeStringField(e.getKey(), e.getValue());
        }
        g.writeEndObject();
      }
      long offset = 0;
      for (Declared t : tensors) {
        g.writeObjectFieldStart(t.name());
        g.writeStringField("dtype", t.dtype().name());
        g.writeArrayFieldStart("shape");
        for (long d : t.shape()) {
          g.writeNumber(d);
        }
        g.writeEndArray();
        g.writeArrayFieldStart("data_offsets");
        g.writeNumber(offset);
        g.writeNumber(offset + t.bytes());
        g.writeEndArray();
        g.writeEndObject();
        offset += t.bytes();
      }
      g.writeEndObject();
    } catch (IOException e) {
      throw new UncheckedIOException(e); // a ByteArrayOutputStream does not fail
    }
    while ((8 + out.size()) % 8 != 0) {
      out.write(' ');
    }
    return out.toByteArray();
  }
}
