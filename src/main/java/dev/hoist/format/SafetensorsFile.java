package dev.hoist.format;

import static dev.hoist.format.ModelFormatException.key;
import static dev.hoist.format.ModelFormatException.tensor;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.Reader;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A validated safetensors file: the layout its header describes, checked against the file itself.
 *
 * <p>Format: an unsigned 64-bit little-endian header length {@code N}, {@code N} bytes of UTF-8 JSON
 * (an object mapping tensor names to {@code {dtype, shape, data_offsets}}, plus an optional
 * {@code __metadata__} object of strings, possibly padded with trailing spaces), then the data
 * buffer. Offsets are relative to the data buffer, which every tensor must cover without a gap or
 * an overlap, up to the last byte of the file.
 *
 * <p>{@link #read} trusts nothing in the file: sizes are checked against the file before anything is
 * allocated, the header is parsed as a stream, and all arithmetic on sizes is overflow-checked.
 */
public final class SafetensorsFile {

  /** Largest header accepted, as in the reference implementation. */
  public static final long MAX_HEADER_LENGTH = 100_000_000L;

  private static final String METADATA = "__metadata__";

  // CANONICALIZE_FIELD_NAMES off: names come from an untrusted file, no need to intern them.
  private static final JsonFactory JSON = JsonFactory.builder()
      .disable(JsonFactory.Feature.CANONICALIZE_FIELD_NAMES)
      .build()
      .enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION);

  private static final Pattern DUPLICATE = Pattern.compile("Duplicate field '(.*)'", Pattern.DOTALL);

  private final Path path;
  private final long headerLength;
  private final long fileLength;
  private final List<TensorInfo> tensors;
  private final Map<String, String> metadata;

  private SafetensorsFile(Path path, long headerLength, long fileLength, List<TensorInfo> tensors,
      Map<String, String> metadata) {
    this.path = path;
    this.headerLength = headerLength;
    this.fileLength = fileLength;
    this.tensors = List.copyOf(tensors);
    this.metadata = Collections.unmodifiableMap(metadata);
  }

  /**
   * Reads and validates the header of {@code file} against the file's size.
   *
   * @throws ModelFormatException if the file breaks a rule of the format
   * @throws IOException          if the file cannot be read
   */
  public static SafetensorsFile read(Path file) throws ModelFormatException, IOException {
    try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ)) {
      return new Parser(file, channel).parse();
    }
  }

  public Path path() {
    return path;
  }

  /** Length of the JSON header in bytes, including padding. */
  public long headerLength() {
    return headerLength;
  }

  /** Absolute offset of the data buffer: 8 + {@link #headerLength()}. */
  public long dataStart() {
    return 8 + headerLength;
  }

  public long fileLength() {
    return fileLength;
  }

  /** The tensors in data-offset order, with absolute offsets. */
  public List<TensorInfo> tensors() {
    return tensors;
  }

  /** The {@code __metadata__} strings, in file order; empty if there are none. */
  public Map<String, String> metadata() {
    return metadata;
  }

  /** Total number of elements of all tensors. */
  public long parameterCount() {
    return TensorInfo.parameterCount(tensors);
  }

  /** Number of tensors of each dtype, sorted by dtype name. */
  public Map<String, Long> dtypes() {
    return TensorInfo.dtypeCounts(tensors);
  }

  /** A header entry before offsets are made absolute: data_offsets are relative to the data buffer. */
  private record Entry(String name, SafetensorsDtype dtype, long[] shape, long elements, long begin, long end) {
  }

  /** One read of one file; holds what the checks need to name the file in their failures. */
  private static final class Parser {
    private final Path path;
    private final String fileName;
    private final FileChannel channel;
    /** Subject of the top-level entry being parsed, or null between entries. */
    private String entry;

    Parser(Path path, FileChannel channel) {
      this.path = path;
      this.fileName = String.valueOf(path.getFileName());
      this.channel = channel;
    }

    private ModelFormatException fail(String subject, String rule) {
      return new ModelFormatException(fileName, subject, rule);
    }

    SafetensorsFile parse() throws ModelFormatException, IOException {
      long fileLength = channel.size();
      long headerLength = readHeaderLength(fileLength);
      Map<String, String> metadata = new LinkedHashMap<>();
      List<Entry> entries = parseHeader(headerLength, metadata);
      List<TensorInfo> tensors = checkLayout(entries, 8 + headerLength, fileLength);
      return new SafetensorsFile(path, headerLength, fileLength, tensors, metadata);
    }

    /** Reads the 8-byte header length and checks it against the file before anything is allocated. */
    private long readHeaderLength(long fileLength) throws ModelFormatException, IOException {
      if (fileLength < 8) {
        throw fail("header", "file too short for a header length (" + fileLength + " bytes, need at least 8)");
      }
      ByteBuffer buf = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
      while (buf.hasRemaining()) {
        if (channel.read(buf, buf.position()) < 0) {
          throw fail("header", "file ended while reading the header length");
        }
      }
      long n = buf.flip().getLong();
      // Unsigned: a length of 2^63 or more reads as negative and is over every limit.
      if (n < 0 || n > MAX_HEADER_LENGTH) {
        throw fail("header", "header length " + Long.toUnsignedString(n) + " exceeds the limit of "
            + MAX_HEADER_LENGTH + " bytes");
      }
      if (n > fileLength - 8) {
        throw fail("header", "header length " + n + " runs past the end of the file (" + fileLength + " bytes)");
      }
      return n;
    }

    /** Parses the JSON header as a stream straight from the file: a 100 MB header is never held whole. */
    private List<Entry> parseHeader(long headerLength, Map<String, String> metadata)
        throws ModelFormatException, IOException {
      InputStream in = new BoundedInputStream(Channels.newInputStream(channel.position(8)), headerLength);
      // A strict decoder: malformed UTF-8 (overlong forms, lone surrogates, stray bytes) is an error.
      Reader reader = new InputStreamReader(in, StandardCharsets.UTF_8.newDecoder()
          .onMalformedInput(CodingErrorAction.REPORT)
          .onUnmappableCharacter(CodingErrorAction.REPORT));
      List<Entry> entries = new ArrayList<>();
      try (JsonParser p = JSON.createParser(reader)) {
        if (p.nextToken() != JsonToken.START_OBJECT) {
          throw fail("header", "header is not a JSON object");
        }
        JsonToken token;
        while ((token = p.nextToken()) == JsonToken.FIELD_NAME) {
          String name = p.currentName();
          entry = METADATA.equals(name) ? key(name) : tensor(name);
          p.nextToken();
          if (METADATA.equals(name)) {
            parseMetadata(p, metadata);
          } else {
            entries.add(parseEntry(p, name));
          }
          entry = null;
        }
        if (token != JsonToken.END_OBJECT) {
          throw fail("header", "header is not valid JSON (unterminated object)");
        }
        // Padding spaces are whitespace to the parser; anything else after the object is not.
        if (!atEnd(p)) {
          throw fail("header", "unexpected data after the header's JSON object");
        }
      } catch (CharacterCodingException e) {
        throw fail("header", "header is not valid UTF-8");
      } catch (JsonProcessingException e) {
        Matcher dup = DUPLICATE.matcher(e.getOriginalMessage());
        if (dup.matches()) {
          // At the top level the duplicate is a tensor name; inside an entry, one of its fields.
          throw entry == null ? fail(key(dup.group(1)), "duplicate key") : fail(entry, "duplicate key '" + dup.group(1) + "'");
        }
        throw fail(entry == null ? "header" : entry, "header is not valid JSON (" + e.getOriginalMessage() + ")");
      }
      return entries;
    }

    private static boolean atEnd(JsonParser p) throws IOException {
      try {
        return p.nextToken() == null;
      } catch (JsonProcessingException e) {
        return false; // not even a JSON value
      }
    }

    private void parseMetadata(JsonParser p, Map<String, String> metadata) throws ModelFormatException, IOException {
      if (p.currentToken() != JsonToken.START_OBJECT) {
        throw fail(key(METADATA), "must be an object of strings");
      }
      while (p.nextToken() == JsonToken.FIELD_NAME) {
        String k = p.currentName();
        if (p.nextToken() != JsonToken.VALUE_STRING) {
          throw fail(key(METADATA), "value of '" + k + "' must be a string");
        }
        metadata.put(k, p.getText());
      }
    }

    private Entry parseEntry(JsonParser p, String name) throws ModelFormatException, IOException {
      String subject = tensor(name);
      if (p.currentToken() != JsonToken.START_OBJECT) {
        throw fail(subject, "entry must be an object with dtype, shape and data_offsets");
      }
      SafetensorsDtype dtype = null;
      long[] shape = null;
      long[] offsets = null;
      while (p.nextToken() == JsonToken.FIELD_NAME) {
        String field = p.currentName();
        JsonToken value = p.nextToken();
        switch (field) {
          case "dtype" -> {
            if (value != JsonToken.VALUE_STRING) {
              throw fail(subject, "dtype must be a string");
            }
            dtype = SafetensorsDtype.byName(p.getText());
            if (dtype == null) {
              throw fail(subject, "unknown dtype '" + p.getText() + "'");
            }
          }
          case "shape" -> shape = readIntegers(p, subject, "shape", -1);
          case "data_offsets" -> offsets = readIntegers(p, subject, "data_offsets", 2);
          default -> throw fail(subject, "unexpected field '" + field + "'");
        }
      }
      if (dtype == null) {
        throw fail(subject, "missing dtype");
      }
      if (shape == null) {
        throw fail(subject, "missing shape");
      }
      if (offsets == null) {
        throw fail(subject, "missing data_offsets");
      }
      long begin = offsets[0];
      long end = offsets[1];
      if (begin > end) {
        throw fail(subject, "data_offsets begin " + begin + " is after end " + end);
      }
      long elements = 1;
      long bytes;
      try {
        for (long d : shape) {
          elements = Math.multiplyExact(elements, d);
        }
        bytes = Math.multiplyExact(elements, (long) dtype.size());
      } catch (ArithmeticException e) {
        throw fail(subject, "shape " + Arrays.toString(shape) + " x " + dtype
            + " size overflows 64 bits");
      }
      if (bytes != end - begin) {
        throw fail(subject, "shape " + Arrays.toString(shape) + " x " + dtype + " is " + bytes
            + " bytes but data_offsets span " + (end - begin));
      }
      return new Entry(name, dtype, shape, elements, begin, end);
    }

    /** An array of non-negative integers that fit a long; {@code count} is its exact length, or -1 for any. */
    private long[] readIntegers(JsonParser p, String subject, String field, int count)
        throws ModelFormatException, IOException {
      String rule = count < 0
          ? field + " must be an array of non-negative integers"
          : field + " must be an array of " + count + " non-negative integers";
      if (p.currentToken() != JsonToken.START_ARRAY) {
        throw fail(subject, rule);
      }
      long[] values = new long[count < 0 ? 4 : count];
      int n = 0;
      JsonToken t;
      while ((t = p.nextToken()) != JsonToken.END_ARRAY) {
        if (t != JsonToken.VALUE_NUMBER_INT || p.getNumberType() == JsonParser.NumberType.BIG_INTEGER) {
          throw fail(subject, rule + " (got " + p.getText() + ")");
        }
        long v = p.getLongValue();
        if (v < 0) {
          throw fail(subject, rule + " (got " + v + ")");
        }
        if (n == values.length) {
          if (count >= 0) {
            throw fail(subject, rule + " (got more)");
          }
          values = Arrays.copyOf(values, n * 2);
        }
        values[n++] = v;
      }
      if (count >= 0 && n != count) {
        throw fail(subject, rule + " (got " + n + ")");
      }
      return Arrays.copyOf(values, n);
    }

    /** Data offsets must tile the data buffer exactly: from 0, no gap, no overlap, up to the end of the file. */
    private List<TensorInfo> checkLayout(List<Entry> entries, long dataStart, long fileLength)
        throws ModelFormatException {
      List<Entry> sorted = new ArrayList<>(entries);
      // Ties on begin can only be empty tensors; putting them first keeps the tiling check simple.
      sorted.sort(Comparator.comparingLong(Entry::begin).thenComparingLong(Entry::end));
      long dataLength = fileLength - dataStart;
      long expected = 0;
      List<TensorInfo> tensors = new ArrayList<>(sorted.size());
      for (Entry e : sorted) {
        if (e.begin() != expected) {
          throw fail(tensor(e.name()), "offsets not contiguous (expected begin " + expected + ", got " + e.begin() + ")");
        }
        if (e.end() > dataLength) {
          throw fail(tensor(e.name()), "data runs past the end of the file (ends at byte " + (dataStart + e.end())
              + ", file has " + fileLength + ")");
        }
        tensors.add(new TensorInfo(e.name(), e.dtype().name(), e.shape(), dataStart + e.begin(),
            e.end() - e.begin(), e.elements()));
        expected = e.end();
      }
      if (expected != dataLength) {
        String subject = sorted.isEmpty() ? "header" : tensor(sorted.get(sorted.size() - 1).name());
        throw fail(subject, "file has " + (dataLength - expected) + " trailing bytes after the last tensor (data ends at byte "
            + (dataStart + expected) + ", file has " + fileLength + ")");
      }
      return tensors;
    }
  }

  /** Reads at most {@code limit} bytes of another stream; the header must not read into the data. */
  private static final class BoundedInputStream extends InputStream {
    private final InputStream in;
    private long remaining;

    BoundedInputStream(InputStream in, long limit) {
      this.in = in;
      this.remaining = limit;
    }

    @Override
    public int read() throws IOException {
      if (remaining <= 0) {
        return -1;
      }
      int b = in.read();
      if (b >= 0) {
        remaining--;
      }
      return b;
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
      if (remaining <= 0) {
        return -1;
      }
      int n = in.read(b, off, (int) Math.min(len, remaining));
      if (n > 0) {
        remaining -= n;
      }
      return n;
    }

    // The channel belongs to read(), which closes it.
    @Override
    public void close() {
    }
  }
}
