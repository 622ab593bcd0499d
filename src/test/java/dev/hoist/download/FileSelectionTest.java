package dev.hoist.download;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.hoist.contract.ErrorCode;
import dev.hoist.contract.HoistException;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Which files a download fetches, with and without the request's options. */
class FileSelectionTest {

  private static List<RemoteFile> repo(String... paths) {
    return Arrays.stream(paths).map(p -> new RemoteFile(p, 10, "0123456789abcdef0123456789abcdef01234567", null)).toList();
  }

  private static List<String> select(List<RemoteFile> all, JsonObject options) {
    return FileSelection.select(all, "o/n", DownloadOptions.from(options)).stream().map(f -> f.path).toList();
  }

  private static JsonObject include(String... globs) {
    return new JsonObject().put("include", new JsonArray(Arrays.asList(globs)));
  }

  @Test
  void byDefaultTheWeightsWithTheirConfigAndTokenizerButNotTheRest() {
    List<RemoteFile> all = repo("README.md", "config.json", "tokenizer.json", "model-00001-of-00002.safetensors",
        "model-00002-of-00002.safetensors", "model.safetensors.index.json", "pytorch_model.bin", "original/consolidated.00.pth");
    assertThat(select(all, new JsonObject())).containsExactly("config.json", "model-00001-of-00002.safetensors",
        "model-00002-of-00002.safetensors", "model.safetensors.index.json", "tokenizer.json");
  }

  @Test
  void includeReadsPatternsAsHuggingFaceHubDoes() {
    List<RemoteFile> all = repo("config.json", "model.safetensors", "onnx/model.onnx", "onnx/sub/data.bin", "original/params.json");
    assertThat(select(all, include("*.json"))).as("* crosses folders, like fnmatch").containsExactly("config.json", "original/params.json");
    assertThat(select(all, include("onnx/"))).as("a folder means everything under it").containsExactly("onnx/model.onnx", "onnx/sub/data.bin");
    assertThat(select(all, include("model.safetensor?", "[cx]*.json"))).containsExactly("config.json", "model.safetensors");
    assertThat(select(all, include("[!c]*.json"))).containsExactly("original/params.json");
    assertThat(Glob.of("Model.*").matches("model.safetensors")).as("case-sensitive").isFalse();
    assertThat(Glob.of("[]x]*.json").matches("]a.json")).as("a ] first in a class is a member").isTrue();
    assertThat(Glob.of("a[b").matches("a[b")).as("an unclosed [ is literal").isTrue();
  }

  @Test
  void fileAndIncludeTogetherAreTheUnionOfBoth() {
    List<RemoteFile> all = repo("config.json", "model.safetensors", "tokenizer.json");
    assertThat(select(all, include("tok*").put("file", "model.safetensors"))).containsExactly("model.safetensors", "tokenizer.json");
  }

  @Test
  void quantizationPrefersTheWholeLabelAndTakesEveryPartOfASplitFile() {
    List<RemoteFile> all = repo("config.json", "model-IQ4_K_M.gguf", "model-Q4_K_M.gguf", "big-Q8_0-00001-of-00002.gguf",
        "big-Q8_0-00002-of-00002.gguf", "model.safetensors");
    assertThat(select(all, new JsonObject().put("quantization", "q4_k_m"))).containsExactly("config.json", "model-Q4_K_M.gguf");
    assertThat(select(all, new JsonObject().put("quantization", "Q8_0")))
        .containsExactly("big-Q8_0-00001-of-00002.gguf", "big-Q8_0-00002-of-00002.gguf", "config.json");
    assertThat(select(all, include("*.gguf").put("quantization", "IQ4_K_M"))).containsExactly("model-IQ4_K_M.gguf");
  }

  @Test
  void anAmbiguousQuantizationIsRefusedRatherThanGuessed() {
    List<RemoteFile> all = repo("m.Q4_K_M.gguf", "m.Q4_K_S.gguf");
    assertThatThrownBy(() -> select(all, new JsonObject().put("quantization", "Q4_K")))
        .isInstanceOf(HoistException.class).hasMessageContaining("matches several").hasMessageContaining("m.Q4_K_M.gguf")
        .hasMessageContaining("m.Q4_K_S.gguf");
  }

  @Test
  void aMissingQuantizationNamesTheOnesAvailable() {
    List<RemoteFile> all = repo("m.Q4_K_M.gguf", "m.Q8_0.gguf", "m-f16.gguf");
    assertThatThrownBy(() -> select(all, new JsonObject().put("quantization", "Q6_K")))
        .isInstanceOfSatisfying(HoistException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.MODEL_NOT_FOUND))
        .hasMessageContaining("'Q6_K'").hasMessageContaining("Q4_K_M (m.Q4_K_M.gguf)").hasMessageContaining("Q8_0 (m.Q8_0.gguf)")
        .hasMessageContaining("F16 (m-f16.gguf)");
    assertThatThrownBy(() -> select(repo("model.safetensors"), new JsonObject().put("quantization", "Q4_0")))
        .hasMessageContaining("has no GGUF files");
  }
}
