package dev.hoist.download;

import static dev.hoist.download.DownloadHarness.WEIGHTS;
import static dev.hoist.download.DownloadHarness.logs;
import static org.assertj.core.api.Assertions.assertThat;

import dev.hoist.format.DataSource;
import dev.hoist.format.GgmlType;
import dev.hoist.format.GgufWriter;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/** The request's options: include, file, quantization and max_bytes_per_second. */
class DownloadOptionsTest extends DownloadFixture {

  @Test
  void includeMeansExactlyTheMatchingFiles() throws Exception {
    h.repo("test/include").file("test/include", "tokenizer.json", "{}".getBytes(StandardCharsets.UTF_8)).startHoist();

    JsonObject op = h.loadAndWait("test/include", new JsonObject().put("include", new JsonArray().add("*.safetensors")));
    assertThat(op.getString("status")).as("logs %s", logs(op)).isEqualTo("completed");
    assertThat(op.getJsonArray("files").stream().map(f -> ((JsonObject) f).getString("path"))).containsExactly(WEIGHTS);
    assertThat(hub.seen()).extracting(s -> s.file).containsExactly(WEIGHTS);
    assertThat(snapshotFiles(op)).containsExactly(WEIGHTS);
  }

  @Test
  void includeMatchingNothingFailsListingTheFiles() throws Exception {
    h.repo("test/nomatch").startHoist();

    JsonObject op = h.loadAndWait("test/nomatch", new JsonObject().put("include", new JsonArray().add("*.gguf")));
    assertThat(op.getString("status")).isEqualTo("error");
    assertThat(op.getJsonObject("error").getString("code")).isEqualTo("no_model_files");
    assertThat(op.getString("message")).contains("*.gguf").contains("config.json").contains(WEIGHTS);
    assertThat(hub.seen()).isEmpty();
  }

  @Test
  void fileFetchesExactlyThatFile() throws Exception {
    h.repo("test/file").startHoist();

    JsonObject op = h.loadAndWait("test/file", new JsonObject().put("file", WEIGHTS));
    assertThat(op.getString("status")).as("logs %s", logs(op)).isEqualTo("completed");
    assertThat(hub.seen()).extracting(s -> s.file).containsExactly(WEIGHTS);
    assertThat(snapshotFiles(op)).containsExactly(WEIGHTS);
  }

  @Test
  void aFileTheRepoDoesNotHaveFailsWithModelNotFound() throws Exception {
    h.repo("test/nofile").startHoist();

    JsonObject op = h.loadAndWait("test/nofile", new JsonObject().put("file", "model-00001-of-00002.safetensors"));
    assertThat(op.getString("status")).isEqualTo("error");
    assertThat(op.getJsonObject("error").getString("code")).isEqualTo("model_not_found");
    assertThat(op.getString("message")).contains("model-00001-of-00002.safetensors").contains("it has:").contains(WEIGHTS);
  }

  @Test
  void quantizationPicksTheGgufWhoseNameHasItIgnoringCase() throws Exception {
    ggufRepo("test/quant");
    h.startHoist();

    JsonObject op = h.loadAndWait("test/quant", new JsonObject().put("quantization", "q4_k_m"));
    assertThat(op.getString("status")).as("logs %s", logs(op)).isEqualTo("completed");
    assertThat(hub.seen()).extracting(s -> s.file).containsExactly("model.Q4_K_M.gguf");
    assertThat(op.getJsonObject("summary").getString("format")).isEqualToIgnoringCase("gguf");
  }

  @Test
  void aQuantizationTheRepoDoesNotHaveFailsListingTheAvailableOnes() throws Exception {
    ggufRepo("test/noquant");
    h.startHoist();

    JsonObject op = h.loadAndWait("test/noquant", new JsonObject().put("quantization", "Q5_K_S"));
    assertThat(op.getString("status")).isEqualTo("error");
    assertThat(op.getJsonObject("error").getString("code")).isEqualTo("model_not_found");
    assertThat(op.getString("message")).contains("Q5_K_S").contains("available quantizations").contains("Q4_K_M").contains("Q8_0");
    assertThat(hub.seen()).isEmpty();
  }

  @Test
  void maxBytesPerSecondLimitsThisOperationAndTheReportedRateHonorsIt() throws Exception {
    byte[] weights = DownloadHarness.weights(2 << 20, 5);
    h.repo("test/slow", weights).startHoist();
    long limit = 1L << 20;

    long start = System.nanoTime();
    String id = h.start("test/slow", new JsonObject().put("max_bytes_per_second", limit));
    JsonObject op = h.finish(id);
    long downloadMs = (System.nanoTime() - start) / 1_000_000;
    assertThat(op.getString("status")).as("logs %s", logs(op)).isEqualTo("completed");
    assertThat(downloadMs).as("2 MiB at 1 MiB/s").isGreaterThan(1_500);
    double fastest = h.updates(id).stream().map(u -> u.getJsonObject("stage"))
        .filter(s -> "downloading".equals(s.getString("name"))).mapToDouble(s -> s.getDouble("bytes_per_second")).max().orElse(0);
    assertThat(fastest).as("the reported rate").isGreaterThan(limit * 0.5).isLessThan(limit * 1.35);
  }

  private void ggufRepo(String repo) throws Exception {
    Path dir = Files.createDirectories(hubDir.resolve(repo));
    new GgufWriter().putString("general.architecture", "llama").putU32("llama.context_length", 256)
        .tensor("token_embd.weight", GgmlType.F32, 64, 32)
        .write(dir.resolve("model.Q4_K_M.gguf"), DataSource.random(3));
    Files.write(dir.resolve("model.Q8_0.gguf"), new byte[4096]); // never fetched: not a valid GGUF
    Files.writeString(dir.resolve("README.md"), "GGUF quantizations");
  }

  private java.util.List<String> snapshotFiles(JsonObject op) throws Exception {
    Path snapshot = h.repoDir(op.getString("repo")).resolve("snapshots").resolve(op.getString("commit"));
    try (Stream<Path> walk = Files.walk(snapshot)) {
      return walk.filter(p -> !Files.isDirectory(p)).map(p -> snapshot.relativize(p).toString()).sorted().toList();
    }
  }
}
