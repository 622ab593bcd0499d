package dev.hoist.load;

import static dev.hoist.contract.EventBusContract.*;
import static org.assertj.core.api.Assertions.assertThat;

import dev.hoist.HoistConfig;
import dev.hoist.format.DataSource;
import dev.hoist.format.GgmlType;
import dev.hoist.format.GgufWriter;
import dev.hoist.format.SafetensorsDtype;
import dev.hoist.format.SafetensorsWriter;
import dev.hoist.format.TensorInfo;
import io.vertx.core.eventbus.ReplyException;
import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/**
 * The in-process load path over the event bus, on generated model files: every supported dtype,
 * a malformed file, the memory limit, progress, unload and cancel. Paging is rate-limited here
 * (HOIST_LOAD_MAX_BYTES_PER_SECOND) so that progress and cancel can be watched on a fast machine.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class LoadVerticleTest {

  private static final long RATE = 64L << 20;

  @TempDir
  Path dir;
  private LoadStage stage;

  @BeforeAll
  void deploy() {
    stage = LoadStage.deploy(new JsonObject()
        .put(HoistConfig.PROGRESS_INTERVAL_MS, 20)
        .put(HoistConfig.LOAD_MAX_BYTES_PER_SECOND, RATE));
  }

  @AfterAll
  void close() {
    stage.close();
  }

  @Test
  void everySupportedDtypeLoadsWithTheRightParameterCount() throws Exception {
    Map<String, Long> expected = new LinkedHashMap<>();
    Map<String, Path> files = new LinkedHashMap<>();
    for (SafetensorsDtype dtype : List.of(SafetensorsDtype.F32, SafetensorsDtype.F16, SafetensorsDtype.BF16, SafetensorsDtype.I8)) {
      SafetensorsWriter w = new SafetensorsWriter().metadata("format", "pt")
          .tensor("model.embed.weight", dtype, 96, 64)
          .tensor("model.norm.weight", dtype, 64)
          .tensor("lm_head.weight", dtype, 64, 96);
      Path f = dir.resolve("st-" + dtype).resolve("model.safetensors");
      Files.createDirectories(f.getParent());
      w.write(f, DataSource.random(7));
      files.put("st-" + dtype, f);
      expected.put("st-" + dtype, elements(w.layout()));
    }
    for (GgmlType type : List.of(GgmlType.F16, GgmlType.Q8_0, GgmlType.Q4_0)) {
      GgufWriter w = new GgufWriter().putString("general.architecture", "llama").putU32("llama.context_length", 4096)
          .tensor("token_embd.weight", type, 64, 96)
          .tensor("output_norm.weight", GgmlType.F32, 64)
          .tensor("output.weight", type, 128, 32);
      Path f = dir.resolve("gguf-" + type).resolve("model-" + type + ".gguf");
      Files.createDirectories(f.getParent());
      w.write(f, DataSource.random(7));
      files.put("gguf-" + type, f);
      expected.put("gguf-" + type, elements(w.layout()));
    }
    Map<String, String> ops = new LinkedHashMap<>();
    for (Map.Entry<String, Path> e : files.entrySet()) {
      ops.put(e.getKey(), stage.start("test/" + e.getKey(), List.of(e.getValue()), null));
    }
    for (Map.Entry<String, String> e : ops.entrySet()) {
      JsonObject summary = stage.awaitCompleted(e.getValue());
      String name = e.getKey();
      assertThat(summary.getLong("parameters")).as(name).isEqualTo(expected.get(name));
      assertThat(summary.getInteger("tensors")).as(name).isEqualTo(3);
      assertThat(summary.getString("format")).as(name).isEqualTo(name.startsWith("st-") ? "safetensors" : "gguf");
      String dtype = name.substring(name.indexOf('-') + 1);
      assertThat(summary.getJsonObject("dtypes").getMap()).as(name).containsKey(dtype);
      if (name.startsWith("gguf-")) {
        assertThat(summary.getString("architecture")).isEqualTo("llama");
        assertThat(summary.getLong("context_length")).isEqualTo(4096L);
      }
      long data = Files.size(files.get(name)) - firstOffset(name, files.get(name));
      assertThat(summary.getLong("bytes_resident")).as(name).isEqualTo(data);
    }
    for (String key : files.keySet()) {
      stage.request(LOAD_UNLOAD, new JsonObject().put(REPO, "test/" + key));
    }
  }

  @Test
  void aMalformedFileFailsWithInvalidModelFileNamingTheFile() throws Exception {
    // A header that claims 2^62 bytes: a naive reader would try to allocate it.
    Path broken = dir.resolve("malformed").resolve("broken.safetensors");
    Files.createDirectories(broken.getParent());
    ByteBuffer header = ByteBuffer.allocate(64).order(ByteOrder.LITTLE_ENDIAN).putLong(1L << 62);
    Files.write(broken, header.array());
    // A GGUF file claiming a billion tensors.
    Path gguf = dir.resolve("malformed").resolve("huge-count.gguf");
    ByteBuffer g = ByteBuffer.allocate(64).order(ByteOrder.LITTLE_ENDIAN)
        .putInt(0x46554747).putInt(3).putLong(1_000_000_000L).putLong(0);
    Files.write(gguf, g.array());

    for (Path file : List.of(broken, gguf)) {
      String op = stage.start("test/malformed-" + file.getFileName(), List.of(file), null);
      JsonObject end = stage.awaitEnd(op, Duration.ofSeconds(10));
      assertThat(end.getString(KIND)).isEqualTo(KIND_FAILED);
      JsonObject error = end.getJsonObject(ERROR);
      assertThat(error.getString(CODE)).isEqualTo("invalid_model_file");
      assertThat(error.getString(MESSAGE)).contains(file.getFileName().toString());
      assertThat(error.getBoolean(RETRYABLE)).isFalse();
    }
    // The stage is still healthy.
    assertThat(stage.request(PING_PREFIX + VERTICLE_LOAD, new JsonObject()).getString(VERTICLE)).isEqualTo("load");
  }

  @Test
  void theMemoryCheckHonoursHoistMemoryLimitMb() throws Exception {
    Path f = model("memory", 4L << 20);
    try (LoadStage capped = LoadStage.deploy(new JsonObject().put(HoistConfig.MEMORY_LIMIT_MB, 1))) {
      String op = capped.start("test/memory", List.of(f), null);
      JsonObject end = capped.awaitEnd(op, Duration.ofSeconds(10));
      assertThat(end.getString(KIND)).isEqualTo(KIND_FAILED);
      JsonObject error = end.getJsonObject(ERROR);
      assertThat(error.getString(CODE)).isEqualTo("insufficient_memory");
      assertThat(error.getString(MESSAGE)).startsWith("insufficient memory: model needs 4.0 MiB, 1.0 MiB available");
      assertThat(error.getBoolean(RETRYABLE)).isFalse();
      assertThat(LoadStage.mapped(f)).isFalse();
    }
  }

  @Test
  void progressIsTheBytesPagedInMonotonicAndFrequent() throws Exception {
    Path f = model("progress", 32L << 20);
    String op = stage.start("test/progress", List.of(f), null);
    JsonObject summary = stage.awaitCompleted(op);
    List<Long> done = stage.bytesDone(op);
    long total = summary.getLong("bytes_resident");
    assertThat(done).isSorted();
    assertThat(done.get(done.size() - 1)).isEqualTo(total);
    // 0.5 s at 64 MiB/s in slices of 50 ms: many intermediate values, not just 0 and the end
    assertThat(done.stream().filter(b -> b > 0 && b < total).distinct().count()).isGreaterThanOrEqualTo(4);
    assertThat(stage.reports(op)).allMatch(r -> r.getString(STAGE).equals("loading"));
    stage.request(LOAD_UNLOAD, new JsonObject().put(REPO, "test/progress"));
  }

  @Test
  void unloadUnmapsTheFileAndReportsTheBytesReleased() throws Exception {
    Path f = model("unload", 8L << 20);
    String op = stage.start("test/unload", List.of(f), null);
    JsonObject summary = stage.awaitCompleted(op);
    assertThat(LoadStage.mapped(f)).as("mapped while loaded").isTrue();
    JsonObject resident = stage.request(LOAD_RESIDENT, new JsonObject()).getJsonArray(MODELS).stream()
        .map(JsonObject.class::cast).filter(m -> m.getString(REPO).equals("test/unload")).findFirst().orElseThrow();
    assertThat(resident.getLong("bytes_resident")).isEqualTo(summary.getLong("bytes_resident"));

    JsonObject reply = stage.request(LOAD_UNLOAD, new JsonObject().put(REPO, "test/unload"));
    assertThat(reply.getJsonArray(UNLOADED)).isEqualTo(new io.vertx.core.json.JsonArray().add(resident.getString(MODEL_KEY)));
    assertThat(reply.getLong(BYTES_RELEASED)).isEqualTo(summary.getLong("bytes_resident"));
    // Unmapped at once (no tensor view was handed out), not whenever the GC runs.
    assertThat(LoadStage.mapped(f)).as("mapped after unload").isFalse();
    assertThat(stage.request(LOAD_RESIDENT, new JsonObject()).getJsonArray(MODELS).stream()
        .map(JsonObject.class::cast).noneMatch(m -> m.getString(REPO).equals("test/unload"))).isTrue();

    ReplyException again = stage.requestFailure(LOAD_UNLOAD, new JsonObject().put(REPO, "test/unload"));
    assertThat(again.failureCode()).isEqualTo(404);
    assertThat(again.getMessage()).startsWith("model_not_loaded: ");
  }

  @Test
  void cancelStopsPagingBetweenSlicesAndUnmaps() throws Exception {
    Path f = model("cancel", 96L << 20); // 1.5 s at 64 MiB/s
    String op = stage.start("test/cancel", List.of(f), null);
    LoadStage.waitUntil(Duration.ofSeconds(10), () -> stage.bytesDone(op).stream().anyMatch(b -> b > 0), "paging started");
    long asked = System.nanoTime();
    JsonObject reply = stage.request(LOAD_CANCEL, new JsonObject().put(OPERATION_ID, op));
    long tookMs = (System.nanoTime() - asked) / 1_000_000;
    assertThat(reply.getBoolean(CANCELLED)).isTrue();
    assertThat(tookMs).as("cancel reply time").isLessThan(2000);
    Thread.sleep(100); // reports sent before the reply may still be on their way
    int reportsAtCancel = stage.reports(op).size();
    Thread.sleep(400);
    assertThat(stage.reports(op)).as("nothing after the cancel").hasSize(reportsAtCancel);
    assertThat(stage.reports(op)).noneMatch(r -> !KIND_PROGRESS.equals(r.getString(KIND)));
    List<Long> done = stage.bytesDone(op);
    assertThat(done.get(done.size() - 1)).isLessThan(Files.size(f) - 8);
    assertThat(LoadStage.mapped(f)).as("mapped after cancel").isFalse();
    assertThat(stage.request(LOAD_RESIDENT, new JsonObject()).getJsonArray(MODELS).stream()
        .map(JsonObject.class::cast).noneMatch(m -> m.getString(REPO).equals("test/cancel"))).isTrue();

    assertThat(stage.request(LOAD_CANCEL, new JsonObject().put(OPERATION_ID, op)).getBoolean(CANCELLED)).isFalse();
    assertThat(stage.request(LOAD_CANCEL, new JsonObject().put(OPERATION_ID, "no-such-op")).getBoolean(CANCELLED)).isFalse();
  }

  /** A one-file F16 safetensors model with about {@code bytes} of tensor data. */
  private Path model(String name, long bytes) throws IOException {
    Path f = dir.resolve(name).resolve("model.safetensors");
    Files.createDirectories(f.getParent());
    long rows = bytes / 2 / 1024;
    new SafetensorsWriter().tensor("w", SafetensorsDtype.F16, rows, 1024).write(f, DataSource.zeros());
    return f;
  }

  private static long elements(List<TensorInfo> tensors) {
    return tensors.stream().mapToLong(TensorInfo::elements).sum();
  }

  private static long firstOffset(String name, Path f) throws Exception {
    return name.startsWith("st-") ? dev.hoist.format.SafetensorsFile.read(f).dataStart()
        : dev.hoist.format.GgufFile.read(f).dataStart();
  }
}
