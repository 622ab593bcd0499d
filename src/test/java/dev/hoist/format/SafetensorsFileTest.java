package dev.hoist.format;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

class SafetensorsFileTest {

  @TempDir
  Path dir;

  // ------------------------------------------------------------------ valid files

  @Test
  void readsBackEveryDtype() throws Exception {
    SafetensorsWriter w = new SafetensorsWriter().metadata("format", "pt").metadata("note", "every dtype");
    long expectedParams = 0;
    long expectedBytes = 0;
    for (SafetensorsDtype d : SafetensorsDtype.values()) {
      w.tensor("t." + d.name().toLowerCase(), d, 3, 5);
      expectedParams += 15;
      expectedBytes += 15L * d.size();
    }
    Path file = dir.resolve("all.safetensors");
    long length = w.write(file, DataSource.random(7));

    SafetensorsFile f = SafetensorsFile.read(file);
    assertThat(f.fileLength()).isEqualTo(length).isEqualTo(Files.size(file));
    assertThat(f.dataStart() % 8).isZero();
    assertThat(f.dataStart()).isEqualTo(8 + f.headerLength());
    assertThat(f.fileLength() - f.dataStart()).isEqualTo(expectedBytes).isEqualTo(w.dataLength());
    assertThat(f.parameterCount()).isEqualTo(expectedParams);
    assertThat(f.dtypes()).hasSize(SafetensorsDtype.values().length).allSatisfy((k, v) -> assertThat(v).isEqualTo(1L));
    assertThat(List.copyOf(f.dtypes().keySet())).isSorted();
    assertThat(f.metadata()).containsExactly(Map.entry("format", "pt"), Map.entry("note", "every dtype"));
    assertThat(f.tensors()).isEqualTo(w.layout());
    TensorInfo bf16 = f.tensors().stream().filter(t -> t.name().equals("t.bf16")).findFirst().orElseThrow();
    assertThat(bf16.dtype()).isEqualTo("BF16");
    assertThat(bf16.shape()).containsExactly(3, 5);
    assertThat(bf16.length()).isEqualTo(30);
    assertThat(bf16.elements()).isEqualTo(15);
  }

  @Test
  void tensorsComeInDataOrderWithAbsoluteOffsets() throws Exception {
    // Header order differs from data order: the reader sorts by offset.
    Path file = raw("order.safetensors", "{\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]},"
        + "\"a\":{\"dtype\":\"F16\",\"shape\":[4],\"data_offsets\":[0,8]}}", 16);
    SafetensorsFile f = SafetensorsFile.read(file);
    assertThat(f.tensors()).extracting(TensorInfo::name).containsExactly("a", "b");
    assertThat(f.tensors().get(0).offset()).isEqualTo(f.dataStart());
    assertThat(f.tensors().get(1).offset()).isEqualTo(f.dataStart() + 8);
    assertThat(f.metadata()).isEmpty();
  }

  @Test
  void acceptsScalarsEmptyTensorsPaddingAndNoTensors() throws Exception {
    Path file = raw("edge.safetensors", "{\"__metadata__\":{},\"e\":{\"dtype\":\"F32\",\"shape\":[0,4],\"data_offsets\":[0,0]},"
        + "\"s\":{\"dtype\":\"I64\",\"shape\":[],\"data_offsets\":[0,8]}}      ", 8);
    SafetensorsFile f = SafetensorsFile.read(file);
    assertThat(f.tensors()).extracting(TensorInfo::name).containsExactly("e", "s");
    assertThat(f.parameterCount()).isEqualTo(1);

    SafetensorsFile empty = SafetensorsFile.read(raw("empty.safetensors", "{}", 0));
    assertThat(empty.tensors()).isEmpty();
    assertThat(empty.parameterCount()).isZero();
  }

  @Test
  void writerIsDeterministic() throws Exception {
    SafetensorsWriter w = new SafetensorsWriter()
        .tensor("a.norm.weight", SafetensorsDtype.F32, 1000)
        .tensor("b", SafetensorsDtype.F16, 700, 3)
        .tensor("c", SafetensorsDtype.BF16, 5000)
        .tensor("d", SafetensorsDtype.I8, 333);
    Path one = dir.resolve("one.safetensors");
    Path two = dir.resolve("two.safetensors");
    w.write(one, DataSource.random(42));
    w.write(two, DataSource.random(42));
    assertThat(Files.mismatch(one, two)).isEqualTo(-1);
    w.write(two, DataSource.random(43));
    assertThat(Files.mismatch(one, two)).isNotEqualTo(-1);
  }

  @Test
  void randomWeightsArePlausible() throws Exception {
    Path file = dir.resolve("w.safetensors");
    new SafetensorsWriter()
        .tensor("w", SafetensorsDtype.F32, 10_000)
        .tensor("input_layernorm.weight", SafetensorsDtype.F16, 10_000)
        .write(file, DataSource.random(1));
    SafetensorsFile f = SafetensorsFile.read(file);
    ByteBuffer data = ByteBuffer.wrap(Files.readAllBytes(file)).order(ByteOrder.LITTLE_ENDIAN);
    TensorInfo w = f.tensors().get(0);
    TensorInfo norm = f.tensors().get(1);
    double sum = 0;
    for (int i = 0; i < 10_000; i++) {
      float v = data.getFloat((int) w.offset() + 4 * i);
      assertThat(Math.abs(v)).isLessThan(0.05f);
      sum += v;
      float n = Halfs.fromHalf(data.getShort((int) norm.offset() + 2 * i));
      assertThat(n).isBetween(0.9f, 1.1f);
    }
    assertThat(Math.abs(sum / 10_000)).isLessThan(0.005);
  }

  @Test
  void writerRejectsBadDeclarations() {
    SafetensorsWriter w = new SafetensorsWriter().tensor("a", SafetensorsDtype.F32, 2);
    assertThatThrownBy(() -> w.tensor("a", SafetensorsDtype.F32, 2)).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> w.tensor("__metadata__", SafetensorsDtype.F32, 2))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> w.tensor("b", SafetensorsDtype.F32, -1)).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> w.tensor("c", SafetensorsDtype.F32, 1L << 40, 1L << 40))
        .isInstanceOf(ArithmeticException.class);
  }

  // ------------------------------------------------------------------ malformed files

  private static final String W_F32_4 = "\"w\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}";

  static Stream<Arguments> malformedHeaders() {
    return Stream.of(
        bad("not JSON", "{not json}", 0, "header", "header is not valid JSON"),
        bad("truncated JSON", "{\"w\":{\"dtype\":\"F32\"", 0, "tensor 'w'", "header is not valid JSON"),
        bad("not an object", "[1,2]", 0, "header", "header is not a JSON object"),
        bad("garbage after object", "{} x", 0, "header", "unexpected data after the header's JSON object"),
        bad("second object", "{} {}", 0, "header", "unexpected data after the header's JSON object"),
        bad("NUL padding", "{}\u0000\u0000", 0, "header", "unexpected data after the header's JSON object"),
        bad("duplicate key", "{" + W_F32_4 + "," + W_F32_4 + "}", 16, "key 'w'", "duplicate key"),
        bad("duplicate field", "{\"w\":{\"dtype\":\"F32\",\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", 16,
            "tensor 'w'", "duplicate key 'dtype'"),
        bad("entry not an object", "{\"w\":[1]}", 0, "tensor 'w'", "entry must be an object"),
        bad("unknown dtype", "{\"w\":{\"dtype\":\"F17\",\"shape\":[4],\"data_offsets\":[0,16]}}", 16,
            "tensor 'w'", "unknown dtype 'F17'"),
        bad("dtype not a string", "{\"w\":{\"dtype\":4,\"shape\":[4],\"data_offsets\":[0,16]}}", 16,
            "tensor 'w'", "dtype must be a string"),
        bad("missing dtype", "{\"w\":{\"shape\":[4],\"data_offsets\":[0,16]}}", 16, "tensor 'w'", "missing dtype"),
        bad("missing shape", "{\"w\":{\"dtype\":\"F32\",\"data_offsets\":[0,16]}}", 16, "tensor 'w'", "missing shape"),
        bad("missing offsets", "{\"w\":{\"dtype\":\"F32\",\"shape\":[4]}}", 16, "tensor 'w'", "missing data_offsets"),
        bad("unknown field", "{\"w\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16],\"x\":1}}", 16,
            "tensor 'w'", "unexpected field 'x'"),
        bad("negative shape", "{\"w\":{\"dtype\":\"F32\",\"shape\":[-1,4],\"data_offsets\":[0,16]}}", 16,
            "tensor 'w'", "shape must be an array of non-negative integers (got -1)"),
        bad("fractional shape", "{\"w\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,16]}}", 16,
            "tensor 'w'", "shape must be an array of non-negative integers (got 1.5)"),
        bad("string shape", "{\"w\":{\"dtype\":\"F32\",\"shape\":[\"4\"],\"data_offsets\":[0,16]}}", 16,
            "tensor 'w'", "shape must be an array of non-negative integers"),
        bad("shape not an array", "{\"w\":{\"dtype\":\"F32\",\"shape\":4,\"data_offsets\":[0,16]}}", 16,
            "tensor 'w'", "shape must be an array of non-negative integers"),
        bad("shape beyond 64 bits", "{\"w\":{\"dtype\":\"F32\",\"shape\":[99999999999999999999],\"data_offsets\":[0,16]}}",
            16, "tensor 'w'", "shape must be an array of non-negative integers (got 99999999999999999999)"),
        bad("three offsets", "{\"w\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,8,16]}}", 16,
            "tensor 'w'", "data_offsets must be an array of 2 non-negative integers (got more)"),
        bad("negative offset", "{\"w\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[-16,0]}}", 16,
            "tensor 'w'", "data_offsets must be an array of 2 non-negative integers (got -16)"),
        bad("begin after end", "{\"w\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[16,0]}}", 16,
            "tensor 'w'", "data_offsets begin 16 is after end 0"),
        bad("shape x dtype is not the length", "{\"w\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,16]}}", 16,
            "tensor 'w'", "shape [3] x F32 is 12 bytes but data_offsets span 16"),
        bad("shape overflows", "{\"w\":{\"dtype\":\"F32\",\"shape\":[1099511627776,1099511627776,1099511627776],"
            + "\"data_offsets\":[0,16]}}", 16, "tensor 'w'", "size overflows 64 bits"),
        bad("size overflows only with the dtype", "{\"w\":{\"dtype\":\"F64\",\"shape\":[4611686018427387904],"
            + "\"data_offsets\":[0,16]}}", 16, "tensor 'w'", "size overflows 64 bits"),
        bad("gap", "{" + W_F32_4 + ",\"v\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[20,36]}}", 36,
            "tensor 'v'", "offsets not contiguous (expected begin 16, got 20)"),
        bad("overlap", "{" + W_F32_4 + ",\"v\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[8,24]}}", 24,
            "tensor 'v'", "offsets not contiguous (expected begin 16, got 8)"),
        bad("not starting at 0", "{\"w\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[4,20]}}", 20,
            "tensor 'w'", "offsets not contiguous (expected begin 0, got 4)"),
        bad("trailing bytes", "{" + W_F32_4 + "}", 17, "tensor 'w'", "file has 1 trailing bytes after the last tensor"),
        bad("trailing bytes without tensors", "{}", 3, "header", "file has 3 trailing bytes"),
        bad("truncated data", "{" + W_F32_4 + "}", 15, "tensor 'w'", "data runs past the end of the file"),
        bad("metadata not an object", "{\"__metadata__\":[\"a\"]}", 0, "key '__metadata__'", "must be an object of strings"),
        bad("metadata value not a string", "{\"__metadata__\":{\"format\":1}}", 0, "key '__metadata__'",
            "value of 'format' must be a string"),
        bad("metadata nested", "{\"__metadata__\":{\"a\":{\"b\":\"c\"}}}", 0, "key '__metadata__'",
            "value of 'a' must be a string"));
  }

  private static Arguments bad(String what, String header, int dataLength, String subject, String rule) {
    return Arguments.of(what, header, dataLength, subject, rule);
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("malformedHeaders")
  void rejectsMalformedHeader(String what, String header, int dataLength, String subject, String rule) throws IOException {
    Path file = raw("model.safetensors", header, dataLength);
    assertFails(file, subject, rule);
  }

  @Test
  void rejectsFileShorterThanItsHeaderLength() throws IOException {
    Path file = dir.resolve("short.safetensors");
    Files.write(file, concat(u64(1000), "{}".getBytes(StandardCharsets.UTF_8)));
    assertFails(file, "header", "header length 1000 runs past the end of the file (10 bytes)");
  }

  @Test
  void rejectsHeaderLengthOverTheLimitBeforeReadingIt() throws IOException {
    Path file = dir.resolve("huge.safetensors");
    Files.write(file, concat(u64(200_000_000L), "{}".getBytes(StandardCharsets.UTF_8)));
    assertFails(file, "header", "header length 200000000 exceeds the limit of 100000000 bytes");
    Files.write(file, concat(u64(-1L), "{}".getBytes(StandardCharsets.UTF_8)));
    assertFails(file, "header", "header length 18446744073709551615 exceeds the limit");
  }

  @Test
  void rejectsFilesTooShortForTheHeaderLength() throws IOException {
    Path file = dir.resolve("tiny.safetensors");
    Files.write(file, new byte[] {2, 0, 0});
    assertFails(file, "header", "file too short for a header length (3 bytes, need at least 8)");
    Files.write(file, new byte[0]);
    assertFails(file, "header", "file too short");
  }

  @Test
  void rejectsInvalidUtf8() throws IOException {
    byte[] json = "{\"__metadata__\":{\"k\":\"xx\"}}".getBytes(StandardCharsets.UTF_8);
    json[json.length - 5] = (byte) 0xC0; // an overlong encoding of '\0'
    json[json.length - 4] = (byte) 0x80;
    Path file = dir.resolve("utf8.safetensors");
    Files.write(file, concat(u64(json.length), json));
    assertFails(file, "header", "header is not valid UTF-8");
  }

  @Test
  void rejectsTruncatedFile() throws Exception {
    Path file = dir.resolve("cut.safetensors");
    new SafetensorsWriter().tensor("w", SafetensorsDtype.F16, 64).write(file, DataSource.random(1));
    byte[] all = Files.readAllBytes(file);
    Files.write(file, java.util.Arrays.copyOf(all, all.length - 1));
    assertFails(file, "tensor 'w'", "data runs past the end of the file");
    Files.write(file, java.util.Arrays.copyOf(all, 20));
    assertFails(file, "header", "runs past the end of the file");
  }

  @Test
  void messageHasFileSubjectAndRule() throws IOException {
    Path file = raw("model.safetensors", "{" + W_F32_4 + ",\"v\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[20,36]}}", 36);
    ModelFormatException e = catchThrowableOfType(ModelFormatException.class, () -> SafetensorsFile.read(file));
    assertThat(e.getMessage())
        .isEqualTo("model.safetensors: tensor 'v': offsets not contiguous (expected begin 16, got 20)");
    assertThat(e.file()).isEqualTo("model.safetensors");
    assertThat(e.subject()).isEqualTo("tensor 'v'");
    assertThat(e.rule()).isEqualTo("offsets not contiguous (expected begin 16, got 20)");
  }

  // ------------------------------------------------------------------ helpers

  private static void assertFails(Path file, String subject, String rule) {
    ModelFormatException e = catchThrowableOfType(ModelFormatException.class, () -> SafetensorsFile.read(file));
    assertThat(e).as("reading %s", file.getFileName()).isNotNull();
    assertThat(e.file()).isEqualTo(file.getFileName().toString());
    assertThat(e.subject()).isEqualTo(subject);
    assertThat(e.rule()).contains(rule);
    assertThat(e.getMessage()).startsWith(file.getFileName() + ": " + subject + ": ");
  }

  /** A file with {@code header} as its JSON and {@code dataLength} zero bytes of data. */
  private Path raw(String name, String header, int dataLength) throws IOException {
    byte[] json = header.getBytes(StandardCharsets.UTF_8);
    Path file = dir.resolve(name);
    Files.write(file, concat(u64(json.length), json, new byte[dataLength]));
    return file;
  }

  private static byte[] u64(long v) {
    return ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(v).array();
  }

  private static byte[] concat(byte[]... parts) {
    int n = 0;
    for (byte[] p : parts) {
      n += p.length;
    }
    ByteBuffer b = ByteBuffer.allocate(n);
    for (byte[] p : parts) {
      b.put(p);
    }
    return b.array();
  }
}
