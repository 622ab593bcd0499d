package dev.hoist.format;

import static dev.hoist.format.ModelFormatException.key;
import static dev.hoist.format.ModelFormatException.tensor;

import java.io.IOException;
import java.math.BigInteger;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * A validated GGUF file (versions 2 and 3, little-endian): its metadata and tensor layout, checked
 * against the file itself.
 *
 * <p>Format: magic {@code "GGUF"}, u32 version, u64 tensor count, u64 metadata key count, the
 * key/value pairs, the tensor infos (name, u32 n_dims, u64 dims, u32 ggml type, u64 offset relative
 * to the data section), padding to {@code general.alignment} (default 32), then the data section in
 * which each tensor starts at an aligned offset.
 *
 * <p>{@link #read} trusts nothing in the file: it reads through small buffers, checks every count and
 * length against the bytes left in the file before allocating for it, and overflow-checks all size
 * arithmetic, so a hostile header fails fast with a {@link ModelFormatException}.
 *
 * <p>Metadata values are exposed as: integers of every width as {@code Long} (a u64 of 2^63 or more as
 * {@code BigInteger}), f32 as {@code Float}, f64 as {@code Double}, bools as {@code Boolean}, strings
 * as {@code String} and arrays as unmodifiable {@code List}s of these.
 */
public final class GgufFile {

  public static final long MAX_TENSOR_COUNT = 1_000_000;
  public static final long MAX_KEY_COUNT = 1_000_000;
  /** Default {@code general.alignment}. */
  public static final int DEFAULT_ALIGNMENT = 32;
  /** ggml's GGML_MAX_DIMS. */
  public static final int MAX_DIMS = 4;
  /** Longest tensor name the spec allows, in bytes. */
  public static final int MAX_TENSOR_NAME = 64;
  /** Longest key the spec allows, in bytes. */
  public static final int MAX_KEY_LENGTH = 65_535;
  /** Longest string value accepted; real ones (chat templates, embedded tokenizer JSON) are far shorter. */
  public static final long MAX_STRING_LENGTH = 64L << 20;
  /**
   * Most elements accepted in one metadata array. Real vocabularies and merge lists stay below
   * 10^6; the limit keeps a hostile file from making us box billions of values.
   */
  public static final long MAX_ARRAY_LENGTH = 1L << 22;
  /** Deepest nesting of arrays accepted (an array of arrays). */
  public static final int MAX_ARRAY_DEPTH = 2;

  static final int MAGIC = 0x46554747; // "GGUF" read as a little-endian u32

  // Metadata value types.
  static final int UINT8 = 0, INT8 = 1, UINT16 = 2, INT16 = 3, UINT32 = 4, INT32 = 5, FLOAT32 = 6,
      BOOL = 7, STRING = 8, ARRAY = 9, UINT64 = 10, INT64 = 11, FLOAT64 = 12;

  /** Smallest possible encoding of a tensor info: empty name, one dim, type, offset. */
  private static final long MIN_TENSOR_INFO = 8 + 4 + 8 + 4 + 8;
  /** Smallest possible encoding of a key/value pair: empty key, type, one-byte value. */
  private static final long MIN_KEY_VALUE = 8 + 4 + 1;

  private final Path path;
  private final int version;
  private final int alignment;
  private final Map<String, Object> metadata;
  private final List<TensorInfo> tensors;
  private final long dataStart;
  private final long fileLength;

  private GgufFile(Path path, int version, int alignment, Map<String, Object> metadata, List<TensorInfo> tensors,
      long dataStart, long fileLength) {
    this.path = path;
    this.version = version;
    this.alignment = alignment;
    this.metadata = Collections.unmodifiableMap(metadata);
    this.tensors = List.copyOf(tensors);
    this.dataStart = dataStart;
    this.fileLength = fileLength;
  }

  /**
   * Reads and validates the header of {@code file} against the file's size.
   *
   * @throws ModelFormatException if the file breaks a rule of the format
   * @throws IOException          if the file cannot be read
   */
  public static GgufFile read(Path file) throws ModelFormatException, IOException {
    try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ)) {
      return new Parser(file, channel).parse();
    }
  }

  public Path path() {
    return path;
  }

  /** The GGUF version, 2 or 3. */
  public int version() {
    return version;
  }

  /** Alignment of the data section and of every tensor in it. */
  public int alignment() {
    return alignment;
  }

  /** The key/value metadata in file order. */
  public Map<String, Object> metadata() {
    return metadata;
  }

  /** The tensors in data-offset order, with absolute offsets; shapes in ggml order ({@code ne[0]} first). */
  public List<TensorInfo> tensors() {
    return tensors;
  }

  /** Absolute offset of the data section. */
  public long dataStart() {
    return dataStart;
  }

  public long fileLength() {
    return fileLength;
  }

  /** Total number of elements of all tensors. */
  public long parameterCount() {
    return TensorInfo.parameterCount(tensors);
  }

  /** Number of tensors of each ggml type, sorted by type name. */
  public Map<String, Long> dtypes() {
    return TensorInfo.dtypeCounts(tensors);
  }

  /** {@code general.architecture}, or null if absent or not a string. */
  public String architecture() {
    return metadata.get("general.architecture") instanceof String s ? s : null;
  }

  /** {@code <architecture>.context_length}, or null if absent or not an integer. */
  public Long contextLength() {
    String arch = architecture();
    Object v = arch == null ? null : metadata.get(arch + ".context_length");
    return v instanceof Long n ? n : null;
  }

  static long alignUp(long n, long alignment) {
    return (n + alignment - 1) & -alignment;
  }

  /** A tensor info before its offset is made absolute. */
  private record Info(String name, GgmlType type, long[] dims, long elements, long bytes, long offset) {
  }

  /**
   * One read of one file. Keeps a 64 KiB window on the file and the absolute position of the next
   * unread byte; {@link #subject} names what is being read, for failures.
   */
  private static final class Parser {
    private final Path path;
    private final String fileName;
    private final FileChannel channel;
    private final ByteBuffer buf = ByteBuffer.allocate(64 * 1024).order(ByteOrder.LITTLE_ENDIAN);
    private long fileLength;
    /** Absolute position of {@code buf.position()}. */
    private long pos;
    private String subject = "header";

    Parser(Path path, FileChannel channel) {
      this.path = path;
      this.fileName = String.valueOf(path.getFileName());
      this.channel = channel;
      buf.limit(0);
    }

    private ModelFormatException fail(String rule) {
      return new ModelFormatException(fileName, subject, rule);
    }

    private ModelFormatException fail(String subject, String rule) {
      return new ModelFormatException(fileName, subject, rule);
    }

    GgufFile parse() throws ModelFormatException, IOException {
      fileLength = channel.size();

      // ---- header
      int magic = u32();
      if (magic != MAGIC) {
        throw fail(String.format(Locale.ROOT, "bad magic 0x%08x (expected \"GGUF\")", Integer.reverseBytes(magic)));
      }
      int version = u32();
      if (version != 2 && version != 3) {
        int swapped = Integer.reverseBytes(version);
        throw fail(swapped == 2 || swapped == 3
            ? "big-endian GGUF is not supported"
            : "unsupported version " + Integer.toUnsignedString(version) + " (expected 2 or 3)");
      }
      long tensorCount = u64();
      long keyCount = u64();
      checkCount("tensor", tensorCount, MAX_TENSOR_COUNT, MIN_TENSOR_INFO);
      checkCount("key", keyCount, MAX_KEY_COUNT, MIN_KEY_VALUE);
      if (tensorCount * MIN_TENSOR_INFO + keyCount * MIN_KEY_VALUE > remaining()) {
        throw fail(tensorCount + " tensors and " + keyCount + " keys cannot fit in the "
            + remaining() + " bytes left in the file");
      }

      // ---- metadata
      Map<String, Object> metadata = new LinkedHashMap<>();
      int alignment = DEFAULT_ALIGNMENT;
      for (long i = 0; i < keyCount; i++) {
        subject = "key #" + i;
        String k = string(MAX_KEY_LENGTH, true);
        subject = key(k);
        if (metadata.containsKey(k)) {
          throw fail("duplicate key");
        }
        int type = u32();
        Object value = value(type, 0);
        if (k.equals("general.alignment")) {
          if (type != UINT32) {
            throw fail("general.alignment must be a u32");
          }
          long a = (Long) value;
          if (a == 0 || Long.bitCount(a) != 1) {
            throw fail("alignment " + a + " is not a power of two");
          }
          alignment = (int) a; // a u32 power of two ≤ 2^31 fits
        }
        metadata.put(k, value);
      }

      // ---- tensor infos
      List<Info> infos = new ArrayList<>((int) tensorCount);
      Set<String> names = new HashSet<>();
      for (long i = 0; i < tensorCount; i++) {
        subject = "tensor #" + i;
        infos.add(tensorInfo(names));
      }

      // ---- layout of the data section
      long dataStart = alignUp(pos, alignment);
      List<TensorInfo> tensors = checkLayout(infos, dataStart, alignment);
      return new GgufFile(path, version, alignment, metadata, tensors, dataStart, fileLength);
    }

    private void checkCount(String what, long count, long max, long minSize) throws ModelFormatException {
      if (count < 0 || count > max) {
        throw fail(what + " count " + Long.toUnsignedString(count) + " exceeds the limit of " + max);
      }
      if (count > remaining() / minSize) {
        throw fail(what + " count " + count + " cannot fit in the " + remaining() + " bytes left in the file");
      }
    }

    private Info tensorInfo(Set<String> names) throws ModelFormatException, IOException {
      String name = string(MAX_TENSOR_NAME, true);
      subject = tensor(name);
      if (!names.add(name)) {
        throw fail("duplicate tensor name");
      }
      int nDims = u32();
      if (nDims < 1 || nDims > MAX_DIMS) {
        throw fail("n_dims " + Integer.toUnsignedString(nDims) + " is not in 1.." + MAX_DIMS);
      }
      long[] dims = new long[nDims];
      long elements = 1;
      for (int d = 0; d < nDims; d++) {
        dims[d] = u64();
        if (dims[d] <= 0) {
          throw fail("dimension " + d + " is " + Long.toUnsignedString(dims[d]) + ", must be positive");
        }
      }
      int typeId = u32();
      GgmlType type = GgmlType.byId(Integer.toUnsignedLong(typeId));
      if (type == null) {
        throw fail("unknown ggml type " + Integer.toUnsignedString(typeId));
      }
      long offset = u64();
      if (offset < 0) {
        throw fail("offset " + Long.toUnsignedString(offset) + " is past the end of the file");
      }
      try {
        for (long d : dims) {
          elements = Math.multiplyExact(elements, d);
        }
      } catch (ArithmeticException e) {
        throw fail("element count overflows 64 bits");
      }
      // ggml quantizes rows independently, so each row (ne[0]) must be whole blocks.
      if (dims[0] % type.blockSize() != 0) {
        throw fail("first dimension " + dims[0] + " is not a multiple of the " + type + " block size "
            + type.blockSize());
      }
      long bytes;
      try {
        bytes = type.bytesFor(elements);
      } catch (ArithmeticException e) {
        throw fail("byte size overflows 64 bits");
      }
      return new Info(name, type, dims, elements, bytes, offset);
    }

    /**
     * Tensors, sorted by offset, must follow each other exactly as a writer lays them out: the first
     * at 0, each next one at the aligned end of the previous one, and all inside the file.
     */
    private List<TensorInfo> checkLayout(List<Info> infos, long dataStart, int alignment) throws ModelFormatException {
      List<Info> sorted = new ArrayList<>(infos);
      sorted.sort(Comparator.comparingLong(Info::offset));
      long dataLength = fileLength - dataStart; // negative if padding runs past the end
      long expected = 0;
      List<TensorInfo> tensors = new ArrayList<>(sorted.size());
      for (Info t : sorted) {
        if (t.offset() != expected) {
          throw fail(tensor(t.name()), "offset " + t.offset() + " is not at the expected aligned offset "
              + expected);
        }
        if (t.offset() > dataLength || t.bytes() > dataLength - t.offset()) {
          throw fail(tensor(t.name()), "data runs past the end of the file (ends at byte "
              + (dataStart + t.offset() + t.bytes()) + ", file has " + fileLength + ")");
        }
        tensors.add(new TensorInfo(t.name(), t.type().name(), t.dims(), dataStart + t.offset(), t.bytes(),
            t.elements()));
        expected = alignUp(t.offset() + t.bytes(), alignment);
      }
      return tensors;
    }

    // ------------------------------------------------------------------ values

    private Object value(int type, int depth) throws ModelFormatException, IOException {
      switch (type) {
        case UINT8: return (long) (u8() & 0xff);
        case INT8: return (long) u8();
        case UINT16: return (long) (u16() & 0xffff);
        case INT16: return (long) u16();
        case UINT32: return Integer.toUnsignedLong(u32());
        case INT32: return (long) u32();
        case FLOAT32: return Float.intBitsToFloat(u32());
        case BOOL: {
          byte b = u8();
          if (b != 0 && b != 1) {
            throw fail("bool value " + (b & 0xff) + " is neither 0 nor 1");
          }
          return b == 1;
        }
        case STRING: return string(MAX_STRING_LENGTH, false);
        case ARRAY: return array(depth);
        case UINT64: {
          long v = u64();
          return v >= 0 ? (Object) v : new BigInteger(Long.toUnsignedString(v));
        }
        case INT64: return u64();
        case FLOAT64: return Double.longBitsToDouble(u64());
        default: throw fail("unknown value type " + Integer.toUnsignedString(type));
      }
    }

    private List<Object> array(int depth) throws ModelFormatException, IOException {
      if (depth >= MAX_ARRAY_DEPTH) {
        throw fail("arrays nested deeper than " + MAX_ARRAY_DEPTH);
      }
      int type = u32();
      long minSize = minSize(type);
      if (minSize < 0) {
        throw fail("unknown array element type " + Integer.toUnsignedString(type));
      }
      long length = u64();
      // Divide, not multiply: a length of 2^62 times 8 overflows.
      if (length < 0 || length > remaining() / minSize) {
        throw fail("array length " + Long.toUnsignedString(length) + " runs past the end of the file");
      }
      if (length > MAX_ARRAY_LENGTH) {
        throw fail("array length " + length + " exceeds the limit of " + MAX_ARRAY_LENGTH);
      }
      List<Object> list = new ArrayList<>((int) length);
      for (long i = 0; i < length; i++) {
        list.add(value(type, depth + 1));
      }
      return Collections.unmodifiableList(list);
    }

    /** Fewest bytes a value of a type takes, or -1 for an unknown type. */
    private static long minSize(int type) {
      switch (type) {
        case UINT8: case INT8: case BOOL: return 1;
        case UINT16: case INT16: return 2;
        case UINT32: case INT32: case FLOAT32: return 4;
        case UINT64: case INT64: case FLOAT64: case STRING: return 8;
        case ARRAY: return 4 + 8;
        default: return -1;
      }
    }

    /**
     * A u64-length string. Keys and tensor names must be valid UTF-8 ({@code strict}); string values
     * are decoded leniently, because some real vocabularies hold byte fragments that are not.
     */
    private String string(long maxLength, boolean strict) throws ModelFormatException, IOException {
      long length = u64();
      if (length < 0 || length > remaining()) {
        throw fail("string length " + Long.toUnsignedString(length) + " runs past the end of the file");
      }
      if (length > maxLength) {
        throw fail("string length " + length + " exceeds the limit of " + maxLength);
      }
      byte[] bytes = new byte[(int) length];
      int done = 0;
      while (done < bytes.length) {
        need(1);
        int n = Math.min(buf.remaining(), bytes.length - done);
        buf.get(bytes, done, n);
        done += n;
        pos += n;
      }
      if (!strict) {
        return new String(bytes, StandardCharsets.UTF_8);
      }
      try {
        return StandardCharsets.UTF_8.newDecoder()
            .onMalformedInput(CodingErrorAction.REPORT)
            .onUnmappableCharacter(CodingErrorAction.REPORT)
            .decode(ByteBuffer.wrap(bytes))
            .toString();
      } catch (CharacterCodingException e) {
        throw fail("name is not valid UTF-8");
      }
    }

    // ------------------------------------------------------------------ primitives

    private long remaining() {
      return fileLength - pos;
    }

    private byte u8() throws ModelFormatException, IOException {
      need(1);
      pos += 1;
      return buf.get();
    }

    private short u16() throws ModelFormatException, IOException {
      need(2);
      pos += 2;
      return buf.getShort();
    }

    private int u32() throws ModelFormatException, IOException {
      need(4);
      pos += 4;
      return buf.getInt();
    }

    private long u64() throws ModelFormatException, IOException {
      need(8);
      pos += 8;
      return buf.getLong();
    }

    /** Makes at least {@code n} (≤ buffer capacity) bytes available, or fails if the file ends first. */
    private void need(int n) throws ModelFormatException, IOException {
      if (buf.remaining() >= n) {
        return;
      }
      buf.compact();
      long readAt = pos + buf.position();
      while (buf.position() < n) {
        int r = channel.read(buf, readAt);
        if (r < 0) {
          buf.flip();
          throw fail("file truncated: needs " + n + " bytes at offset " + pos + ", file has " + fileLength);
        }
        readAt += r;
      }
      buf.flip();
    }
  }
}
