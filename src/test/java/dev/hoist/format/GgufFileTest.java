package dev.hoist.format;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class GgufFileTest {

  @TempDir
  Path dir;

  // ------------------------------------------------------------------ valid files

  @Test
  void readsBackMetadataAndEveryType() throws Exception {
    GgufWriter w = new GgufWriter()
        .putString("general.architecture", "llama")
        .putString("general.name", "test \u2581model")
        .putU32("llama.context_length", 4096)
        .putU64("big", -1L)
        .putI32("neg", -5)
        .putF32("eps", 1e-5f)
        .putBool("flag", true)
        .putStrings("tokens", List.of("<s>", "</s>", "\u2581hi"))
        .putF32s("scores", new float[] {0f, -1.5f})
        .putI32s("types", new int[] {3, 1});
    long params = 0;
    for (GgmlType t : GgmlType.values()) {
      w.tensor("t." + t.name().toLowerCase(), t, t.blockSize() * 2L, 3);
      params += t.blockSize() * 6L;
    }
    Path file = dir.resolve("all.gguf");
    long length = w.write(file, DataSource.random(3));

    GgufFile f = GgufFile.read(file);
    assertThat(f.version()).isEqualTo(3);
    assertThat(f.alignment()).isEqualTo(32);
    assertThat(f.fileLength()).isEqualTo(length).isEqualTo(Files.size(file));
    assertThat(f.dataStart() % 32).isZero();
    assertThat(f.architecture()).isEqualTo("llama");
    assertThat(f.contextLength()).isEqualTo(4096L);
    assertThat(f.metadata().keySet()).containsExactly("general.architecture", "general.name", "llama.context_length",
        "big", "neg", "eps", "flag", "tokens", "scores", "types");
    assertThat(f.metadata().get("general.name")).isEqualTo("test \u2581model");
    assertThat(f.metadata().get("big")).hasToString("18446744073709551615");
    assertThat(f.metadata().get("neg")).isEqualTo(-5L);
    assertThat(f.metadata().get("eps")).isEqualTo(1e-5f);
    assertThat(f.metadata().get("flag")).isEqualTo(true);
    assertThat(f.metadata().get("tokens")).isEqualTo(List.of("<s>", "</s>", "\u2581hi"));
    assertThat(f.metadata().get("scores")).isEqualTo(List.of(0f, -1.5f));
    assertThat(f.metadata().get("types")).isEqualTo(List.of(3L, 1L));

    assertThat(f.parameterCount()).isEqualTo(params);
    assertThat(f.dtypes()).hasSize(GgmlType.values().length).allSatisfy((k, v) -> assertThat(v).isEqualTo(1L));
    assertThat(f.tensors()).isEqualTo(w.layout());
    for (TensorInfo t : f.tensors()) {
      GgmlType type = GgmlType.valueOf(t.dtype());
      assertThat((t.offset() - f.dataStart()) % 32).isZero();
      assertThat(t.length()).isEqualTo(6L * type.typeSize());
      assertThat(t.shape()).containsExactly(type.blockSize() * 2L, 3);
    }
    TensorInfo q8 = f.tensors().stream().filter(t -> t.dtype().equals("Q8_0")).findFirst().orElseThrow();
    assertThat(q8.elements()).isEqualTo(192);
    assertThat(q8.length()).isEqualTo(6 * 34);
  }

  @Test
  void typeTableMatchesGgml() {
    assertThat(GgmlType.Q8_0.typeSize()).isEqualTo(34);
    assertThat(GgmlType.Q4_0.typeSize()).isEqualTo(18);
    assertThat(GgmlType.Q4_K.typeSize()).isEqualTo(144);
    assertThat(GgmlType.Q6_K.typeSize()).isEqualTo(210);
    assertThat(GgmlType.Q8_K.typeSize()).isEqualTo(292);
    assertThat(GgmlType.byId(30)).isEqualTo(GgmlType.BF16);
    assertThat(GgmlType.byId(4)).isNull();
    assertThat(GgmlType.byId(-1)).isNull();
    assertThat(GgmlType.byId(1000)).isNull();
  }

  @Test
  void readsVersion2AndCustomAlignment() throws Exception {
    Path file = dir.resolve("v2.gguf");
    new GgufWriter().alignment(64)
        .tensor("a", GgmlType.F32, 3)
        .tensor("b", GgmlType.F16, 5)
        .write(file, DataSource.random(1));
    byte[] bytes = Files.readAllBytes(file);
    bytes[4] = 2; // v2 has the same layout as v3
    Files.write(file, bytes);
    GgufFile f = GgufFile.read(file);
    assertThat(f.version()).isEqualTo(2);
    assertThat(f.alignment()).isEqualTo(64);
    assertThat(f.dataStart() % 64).isZero();
    assertThat(f.tensors().get(1).offset()).isEqualTo(f.dataStart() + 64);
    assertThat(f.architecture()).isNull();
    assertThat(f.contextLength()).isNull();
  }

  @Test
  void readsTensorsInOffsetOrderAndNestedArrays() throws Exception {
    Path file = file("order.gguf", g -> g.header(2, 1)
        .str("nested").u32(GgufFile.ARRAY).u32(GgufFile.ARRAY).u64(2)
        .u32(GgufFile.UINT8).u64(1).u8(7)
        .u32(GgufFile.STRING).u64(1).str("x")
        .tensorInfo("second", new long[] {4}, 0, 32)
        .tensorInfo("first", new long[] {4}, 0, 0)
        .align().zeros(48));
    GgufFile f = GgufFile.read(file);
    assertThat(f.tensors()).extracting(TensorInfo::name).containsExactly("first", "second");
    assertThat(f.metadata().get("nested")).isEqualTo(List.of(List.of(7L), List.of("x")));
  }

  @Test
  void writerIsDeterministic() throws Exception {
    GgufWriter w = new GgufWriter().putString("general.name", "x")
        .tensor("a", GgmlType.Q8_0, 64, 3)
        .tensor("b", GgmlType.Q4_0, 32)
        .tensor("c.norm", GgmlType.F32, 7);
    Path one = dir.resolve("one.gguf");
    Path two = dir.resolve("two.gguf");
    w.write(one, DataSource.random(9));
    w.write(two, DataSource.random(9));
    assertThat(Files.mismatch(one, two)).isEqualTo(-1);
  }

  @Test
  void writerRejectsBadDeclarations() {
    GgufWriter w = new GgufWriter().tensor("a", GgmlType.F32, 2);
    assertThatThrownBy(() -> w.tensor("a", GgmlType.F32, 2)).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> w.tensor("b", GgmlType.Q8_0, 16)).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> w.tensor("c", GgmlType.F32, 1, 1, 1, 1, 1)).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> w.tensor("d", GgmlType.F32, 0)).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> w.alignment(24)).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> w.putU32("k", -1)).isInstanceOf(IllegalArgumentException.class);
  }

  // ------------------------------------------------------------------ malformed files

  @Test
  void rejectsBadMagic() throws IOException {
    Path file = file("magic.gguf", g -> g.raw("GGUX".getBytes(StandardCharsets.US_ASCII)).u32(3).u64(0).u64(0));
    assertFails(file, "header", "bad magic 0x47475558 (expected \"GGUF\")");
  }

  @Test
  void rejectsUnsupportedVersions() throws IOException {
    assertFails(file("v1.gguf", g -> g.magic().u32(1).u64(0).u64(0)), "header", "unsupported version 1 (expected 2 or 3)");
    assertFails(file("v4.gguf", g -> g.magic().u32(4).u64(0).u64(0)), "header", "unsupported version 4 (expected 2 or 3)");
    assertFails(file("be.gguf", g -> g.magic().u32(Integer.reverseBytes(3)).u64(0).u64(0)), "header",
        "big-endian GGUF is not supported");
  }

  @Test
  void rejectsHugeCounts() throws IOException {
    assertFails(file("t.gguf", g -> g.header(2_000_000, 0)), "header", "tensor count 2000000 exceeds the limit of 1000000");
    assertFails(file("t.gguf", g -> g.header(-1, 0)), "header", "tensor count 18446744073709551615 exceeds the limit");
    assertFails(file("t.gguf", g -> g.header(1000, 0).zeros(100)), "header",
        "tensor count 1000 cannot fit in the 100 bytes left in the file");
    assertFails(file("k.gguf", g -> g.header(0, 1_000_001)), "header", "key count 1000001 exceeds the limit of 1000000");
    assertFails(file("k.gguf", g -> g.header(0, 1000).zeros(100)), "header",
        "key count 1000 cannot fit in the 100 bytes left in the file");
    assertFails(file("tk.gguf", g -> g.header(3, 3).zeros(120)), "header",
        "3 tensors and 3 keys cannot fit in the 120 bytes left in the file");
  }

  @Test
  void rejectsHugeStringAndArrayLengthsWithoutAllocating() throws IOException {
    Path string = file("s.gguf", g -> g.header(0, 1).u64(1L << 62).raw("general.name".getBytes(StandardCharsets.UTF_8)));
    Path value = file("v.gguf", g -> g.header(0, 1).str("general.name").u32(GgufFile.STRING).u64(1L << 62).zeros(16));
    Path array = file("a.gguf", g -> g.header(0, 1).str("tokens").u32(GgufFile.ARRAY).u32(GgufFile.UINT32).u64(1L << 62)
        .zeros(16));
    Path strings = file("as.gguf", g -> g.header(0, 1).str("tokens").u32(GgufFile.ARRAY).u32(GgufFile.STRING)
        .u64(1L << 61).zeros(16));
    Path unsigned = file("u.gguf", g -> g.header(0, 1).str("tokens").u32(GgufFile.ARRAY).u32(GgufFile.UINT8).u64(-1L)
        .zeros(16));
    org.junit.jupiter.api.Assertions.assertTimeoutPreemptively(Duration.ofSeconds(2), () -> {
      assertFails(string, "key #0", "string length 4611686018427387904 runs past the end of the file");
      assertFails(value, "key 'general.name'", "string length 4611686018427387904 runs past the end of the file");
      assertFails(array, "key 'tokens'", "array length 4611686018427387904 runs past the end of the file");
      assertFails(strings, "key 'tokens'", "array length 2305843009213693952 runs past the end of the file");
      assertFails(unsigned, "key 'tokens'", "array length 18446744073709551615 runs past the end of the file");
    });
  }

  @Test
  void rejectsBadMetadata() throws IOException {
    assertFails(file("a3.gguf", g -> g.header(0, 1).str("general.alignment").u32(GgufFile.UINT32).u32(3)),
        "key 'general.alignment'", "alignment 3 is not a power of two");
    assertFails(file("a0.gguf", g -> g.header(0, 1).str("general.alignment").u32(GgufFile.UINT32).u32(0)),
        "key 'general.alignment'", "alignment 0 is not a power of two");
    assertFails(file("as.gguf", g -> g.header(0, 1).str("general.alignment").u32(GgufFile.UINT64).u64(32)),
        "key 'general.alignment'", "general.alignment must be a u32");
    assertFails(file("type.gguf", g -> g.header(0, 1).str("k").u32(13).u64(0)), "key 'k'", "unknown value type 13");
    assertFails(file("atype.gguf", g -> g.header(0, 1).str("k").u32(GgufFile.ARRAY).u32(99).u64(0)), "key 'k'",
        "unknown array element type 99");
    assertFails(file("deep.gguf", g -> g.header(0, 1).str("k").u32(GgufFile.ARRAY)
            .u32(GgufFile.ARRAY).u64(1).u32(GgufFile.ARRAY).u64(1).u32(GgufFile.UINT8).u64(1).u8(1)),
        "key 'k'", "arrays nested deeper than 2");
    assertFails(file("dup.gguf", g -> g.header(0, 2).str("k").u32(GgufFile.UINT8).u8(1).str("k").u32(GgufFile.UINT8).u8(2)),
        "key 'k'", "duplicate key");
    assertFails(file("bool.gguf", g -> g.header(0, 1).str("k").u32(GgufFile.BOOL).u8(2)), "key 'k'",
        "bool value 2 is neither 0 nor 1");
    assertFails(file("utf8.gguf", g -> g.header(0, 1).u64(2).u8(0xC0).u8(0x80).u32(GgufFile.UINT8).u8(1)), "key #0",
        "name is not valid UTF-8");
  }

  @Test
  void rejectsBadTensorInfos() throws IOException {
    assertFails(file("dims.gguf", g -> g.header(1, 0).str("x").u32(5).u64(1).u64(1).u64(1).u64(1).u64(1).u32(0).u64(0)),
        "tensor 'x'", "n_dims 5 is not in 1..4");
    assertFails(file("dims0.gguf", g -> g.header(1, 0).str("x").u32(0).u32(0).u64(0).zeros(32)),
        "tensor 'x'", "n_dims 0 is not in 1..4");
    assertFails(file("zero.gguf", g -> g.header(1, 0).tensorInfo("x", new long[] {4, 0}, 0, 0).zeros(32)),
        "tensor 'x'", "dimension 1 is 0, must be positive");
    assertFails(file("type.gguf", g -> g.header(1, 0).tensorInfo("x", new long[] {4}, 4, 0).zeros(32)),
        "tensor 'x'", "unknown ggml type 4");
    assertFails(file("type2.gguf", g -> g.header(1, 0).tensorInfo("x", new long[] {4}, 1000, 0).zeros(32)),
        "tensor 'x'", "unknown ggml type 1000");
    assertFails(file("block.gguf", g -> g.header(1, 0).tensorInfo("x", new long[] {16, 2}, GgmlType.Q8_0.id(), 0)
        .zeros(64)), "tensor 'x'", "first dimension 16 is not a multiple of the Q8_0 block size 32");
    assertFails(file("elems.gguf", g -> g.header(1, 0).tensorInfo("x", new long[] {1L << 40, 1L << 40}, 0, 0).zeros(32)),
        "tensor 'x'", "element count overflows 64 bits");
    assertFails(file("bytes.gguf", g -> g.header(1, 0).tensorInfo("x", new long[] {1L << 62}, 0, 0).zeros(32)),
        "tensor 'x'", "byte size overflows 64 bits");
    assertFails(file("dup.gguf", g -> g.header(2, 0).tensorInfo("x", new long[] {4}, 0, 0)
        .tensorInfo("x", new long[] {4}, 0, 32).align().zeros(64)), "tensor 'x'", "duplicate tensor name");
    assertFails(file("long.gguf", g -> g.header(1, 0).tensorInfo("x".repeat(65), new long[] {4}, 0, 0).align().zeros(16)),
        "tensor #0", "string length 65 exceeds the limit of 64");
  }

  @Test
  void rejectsTensorsOffTheirAlignedOffsets() throws IOException {
    // "a" is 16 bytes, so "b" belongs at 32, the next multiple of the alignment.
    assertFails(file("packed.gguf", g -> g.header(2, 0).tensorInfo("a", new long[] {4}, 0, 0)
            .tensorInfo("b", new long[] {4}, 0, 16).align().zeros(48)),
        "tensor 'b'", "offset 16 is not at the expected aligned offset 32");
    assertFails(file("gap.gguf", g -> g.header(2, 0).tensorInfo("a", new long[] {4}, 0, 0)
            .tensorInfo("b", new long[] {4}, 0, 64).align().zeros(80)),
        "tensor 'b'", "offset 64 is not at the expected aligned offset 32");
    assertFails(file("first.gguf", g -> g.header(1, 0).tensorInfo("a", new long[] {4}, 0, 32).align().zeros(48)),
        "tensor 'a'", "offset 32 is not at the expected aligned offset 0");
    assertFails(file("odd.gguf", g -> g.header(1, 0).tensorInfo("a", new long[] {4}, 0, 1).align().zeros(48)),
        "tensor 'a'", "offset 1 is not at the expected aligned offset 0");
  }

  @Test
  void rejectsTensorPastEndOfFile() throws IOException {
    assertFails(file("past.gguf", g -> g.header(2, 0).tensorInfo("a", new long[] {4}, 0, 0)
            .tensorInfo("b", new long[] {8}, 0, 32).align().zeros(40)),
        "tensor 'b'", "data runs past the end of the file");
    // No room even for the data section's padding.
    assertFails(file("nodata.gguf", g -> g.header(1, 0).tensorInfo("a", new long[] {4}, 0, 0)),
        "tensor 'a'", "data runs past the end of the file");
  }

  @Test
  void rejectsTruncatedFiles() throws Exception {
    Path file = dir.resolve("cut.gguf");
    new GgufWriter().putString("general.architecture", "llama").putStrings("tokens", List.of("a", "b", "c"))
        .tensor("w", GgmlType.F32, 8).write(file, DataSource.random(1));
    byte[] all = Files.readAllBytes(file);
    Files.write(file, Arrays.copyOf(all, 2));
    assertFails(file, "header", "file truncated");
    // Too short for the counts it claims.
    Files.write(file, Arrays.copyOf(all, 40));
    assertFails(file, "header", "tensor count 1 cannot fit in the 16 bytes left in the file");
    // Ends inside the "tokens" array, which claims more strings than are left.
    Files.write(file, Arrays.copyOf(all, 100));
    assertFails(file, "key 'tokens'", "array length 3 runs past the end of the file");
    // Ends inside a fixed-size value.
    assertFails(file("u32.gguf", g -> g.header(0, 1).str("k").u32(GgufFile.UINT32).u8(1)), "key 'k'",
        "file truncated: needs 4 bytes at offset 37, file has 38");
    Files.write(file, Arrays.copyOf(all, all.length - 1));
    assertFails(file, "tensor 'w'", "data runs past the end of the file");
  }

  @Test
  void messageHasFileSubjectAndRule() throws IOException {
    Path file = file("model.gguf", g -> g.header(1, 0).tensorInfo("blk.0.attn_q.weight", new long[] {4}, 0, 32).zeros(64));
    ModelFormatException e = catchThrowableOfType(ModelFormatException.class, () -> GgufFile.read(file));
    assertThat(e.getMessage())
        .isEqualTo("model.gguf: tensor 'blk.0.attn_q.weight': offset 32 is not at the expected aligned offset 0");
  }

  // ------------------------------------------------------------------ helpers

  private static void assertFails(Path file, String subject, String rule) {
    ModelFormatException e = catchThrowableOfType(ModelFormatException.class, () -> GgufFile.read(file));
    assertThat(e).as("reading %s", file.getFileName()).isNotNull();
    assertThat(e.file()).isEqualTo(file.getFileName().toString());
    assertThat(e.subject()).isEqualTo(subject);
    assertThat(e.rule()).contains(rule);
    assertThat(e.getMessage()).startsWith(file.getFileName() + ": " + subject + ": ");
  }

  private Path file(String name, Consumer<Raw> content) throws IOException {
    Raw raw = new Raw();
    content.accept(raw);
    Path file = dir.resolve(name);
    Files.write(file, raw.toByteArray());
    return file;
  }

  /** Hand-built GGUF bytes, little-endian, for files no writer would produce. */
  static final class Raw extends ByteArrayOutputStream {
    Raw raw(byte[] b) {
      writeBytes(b);
      return this;
    }

    Raw u8(int v) {
      write(v);
      return this;
    }

    Raw u32(long v) {
      for (int i = 0; i < 4; i++) {
        write((int) (v >>> (8 * i)));
      }
      return this;
    }

    Raw u64(long v) {
      for (int i = 0; i < 8; i++) {
        write((int) (v >>> (8 * i)));
      }
      return this;
    }

    Raw str(String s) {
      byte[] b = s.getBytes(StandardCharsets.UTF_8);
      return u64(b.length).raw(b);
    }

    Raw zeros(int n) {
      return raw(new byte[n]);
    }

    Raw magic() {
      return raw("GGUF".getBytes(StandardCharsets.US_ASCII));
    }

    /** Magic, version 3 and the two counts. */
    Raw header(long tensors, long keys) {
      return magic().u32(3).u64(tensors).u64(keys);
    }

    Raw tensorInfo(String name, long[] dims, int type, long offset) {
      str(name).u32(dims.length);
      for (long d : dims) {
        u64(d);
      }
      return u32(type).u64(offset);
    }

    /** Zero padding up to the default alignment. */
    Raw align() {
      while (size() % 32 != 0) {
        write(0);
      }
      return this;
    }
  }
}
