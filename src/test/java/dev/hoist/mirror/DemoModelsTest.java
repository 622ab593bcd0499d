package dev.hoist.mirror;

import static org.assertj.core.api.Assertions.assertThat;

import dev.hoist.format.GgufFile;
import dev.hoist.format.SafetensorsFile;
import dev.hoist.format.TensorInfo;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DemoModelsTest {

  private static final long MIB = 1 << 20;

  @TempDir
  static Path root;

  @BeforeAll
  static void generate() throws IOException {
    DemoModels.ensure(root);
  }

  @Test
  void createsTheThreeRepositories() throws IOException {
    assertThat(DemoModels.REPOS).containsExactly("hoist/demo-tiny", "hoist/demo-sharded", "hoist/demo-gguf");
    assertThat(fileNames(repo("hoist/demo-tiny"))).containsExactly("README.md", "config.json", "generation_config.json",
        "model.safetensors", "special_tokens_map.json", "tokenizer.json", "tokenizer_config.json");
    assertThat(fileNames(repo("hoist/demo-sharded"))).containsExactly("README.md", "config.json",
        "generation_config.json", "model-00001-of-00004.safetensors", "model-00002-of-00004.safetensors",
        "model-00003-of-00004.safetensors", "model-00004-of-00004.safetensors", "model.safetensors.index.json",
        "special_tokens_map.json", "tokenizer.json", "tokenizer_config.json");
    assertThat(fileNames(repo("hoist/demo-gguf"))).containsExactly("README.md", "demo-gguf.Q8_0.gguf");
    // Nothing but the repositories themselves: no partial directories left behind.
    assertThat(fileNames(root.resolve("hoist"))).containsExactly("demo-gguf", "demo-sharded", "demo-tiny");

    assertThat(Files.size(repo("hoist/demo-tiny").resolve("model.safetensors"))).isBetween(15 * MIB, 17 * MIB);
    assertThat(totalSize(repo("hoist/demo-sharded"), ".safetensors")).isBetween(240 * MIB, 272 * MIB);
    assertThat(Files.size(repo("hoist/demo-gguf").resolve("demo-gguf.Q8_0.gguf"))).isBetween(56 * MIB, 72 * MIB);
    assertThat(Files.readString(repo("hoist/demo-tiny").resolve("README.md"))).contains("random");
  }

  @Test
  void tinyModelMatchesItsConfigAndTokenizer() throws Exception {
    Path repo = repo("hoist/demo-tiny");
    SafetensorsFile f = SafetensorsFile.read(repo.resolve("model.safetensors"));
    assertThat(f.dtypes()).containsOnlyKeys("BF16", "F16", "F32");
    assertThat(f.metadata()).containsEntry("format", "pt");
    JsonObject config = json(repo.resolve("config.json"));
    assertThat(config.getJsonArray("architectures")).containsExactly("LlamaForCausalLM");
    assertThat(config.getString("model_type")).isEqualTo("llama");
    assertThat(config.getInteger("max_position_embeddings")).isEqualTo(2048);
    checkLlama(config, tensorsByName(List.of(f)));
    checkTokenizer(repo, config.getInteger("vocab_size"));
    assertThat(json(repo.resolve("generation_config.json")).getInteger("eos_token_id")).isEqualTo(2);
  }

  @Test
  void shardedModelIndexCoversEveryTensorOnce() throws Exception {
    Path repo = repo("hoist/demo-sharded");
    JsonObject index = json(repo.resolve("model.safetensors.index.json"));
    JsonObject weightMap = index.getJsonObject("weight_map");
    List<SafetensorsFile> shards = new ArrayList<>();
    Map<String, String> seen = new HashMap<>();
    long total = 0;
    try (Stream<Path> files = Files.list(repo)) {
      for (Path p : files.filter(p -> p.toString().endsWith(".safetensors")).sorted().toList()) {
        SafetensorsFile shard = SafetensorsFile.read(p);
        shards.add(shard);
        for (TensorInfo t : shard.tensors()) {
          assertThat(seen.put(t.name(), p.getFileName().toString())).as("tensor %s in two shards", t.name()).isNull();
          assertThat(weightMap.getString(t.name())).as("weight_map[%s]", t.name()).isEqualTo(p.getFileName().toString());
          total += t.length();
        }
      }
    }
    assertThat(shards).hasSize(4);
    assertThat(weightMap.size()).isEqualTo(seen.size());
    assertThat(index.getJsonObject("metadata").getLong("total_size")).isEqualTo(total);
    assertThat(shards.stream().flatMap(s -> s.dtypes().keySet().stream()).distinct())
        .containsExactlyInAnyOrder("BF16", "F16", "F32");

    JsonObject config = json(repo.resolve("config.json"));
    checkLlama(config, tensorsByName(shards));
    checkTokenizer(repo, config.getInteger("vocab_size"));
  }

  @Test
  void ggufModelIsConsistent() throws Exception {
    GgufFile f = GgufFile.read(repo("hoist/demo-gguf").resolve("demo-gguf.Q8_0.gguf"));
    assertThat(f.version()).isEqualTo(3);
    assertThat(f.architecture()).isEqualTo("llama");
    assertThat(f.contextLength()).isEqualTo(2048L);
    assertThat(f.metadata()).containsKeys("general.name", "tokenizer.ggml.model");
    assertThat(f.dtypes()).containsOnlyKeys("F16", "F32", "Q4_0", "Q8_0");
    long hidden = (Long) f.metadata().get("llama.embedding_length");
    long layers = (Long) f.metadata().get("llama.block_count");
    List<?> tokens = (List<?>) f.metadata().get("tokenizer.ggml.tokens");
    assertThat(tokens).hasSizeBetween(200, 1000).doesNotHaveDuplicates();
    Map<String, TensorInfo> byName = new HashMap<>();
    f.tensors().forEach(t -> byName.put(t.name(), t));
    assertThat(byName.get("token_embd.weight").shape()).containsExactly(hidden, tokens.size());
    assertThat(byName.get("output.weight").shape()).containsExactly(hidden, tokens.size());
    assertThat(byName).containsKey("blk." + (layers - 1) + ".ffn_down.weight").doesNotContainKey("blk." + layers + ".ffn_down.weight");
  }

  @Test
  void generationIsDeterministicAndLeavesExistingReposAlone(@TempDir Path other) throws Exception {
    // A partial directory abandoned by a process that no longer runs is cleaned up.
    Path abandoned = other.resolve("hoist/.demo-tiny.partial-2147483647");
    Files.createDirectories(abandoned.resolve("x"));
    DemoModels.ensure(other);
    assertThat(abandoned).doesNotExist();
    for (String repo : DemoModels.REPOS) {
      assertThat(digests(other.resolve(repo))).as(repo).isEqualTo(digests(repo(repo)));
    }

    // An existing repository is not regenerated, even if it differs from what would be generated.
    Path readme = other.resolve("hoist/demo-tiny/README.md");
    Files.writeString(readme, "mine");
    Files.delete(other.resolve("hoist/demo-tiny/config.json"));
    DemoModels.ensure(other);
    assertThat(readme).hasContent("mine");
    assertThat(other.resolve("hoist/demo-tiny/config.json")).doesNotExist();
  }

  // ------------------------------------------------------------------ helpers

  /** hidden_size, vocab_size, num_hidden_layers and kv heads agree with the tensors' shapes. */
  private static void checkLlama(JsonObject config, Map<String, TensorInfo> tensors) {
    long hidden = config.getLong("hidden_size");
    long vocab = config.getLong("vocab_size");
    long layers = config.getLong("num_hidden_layers");
    long intermediate = config.getLong("intermediate_size");
    long kvDim = hidden / config.getLong("num_attention_heads") * config.getLong("num_key_value_heads");
    assertThat(tensors.get("model.embed_tokens.weight").shape()).containsExactly(vocab, hidden);
    assertThat(tensors.get("lm_head.weight").shape()).containsExactly(vocab, hidden);
    assertThat(tensors.get("model.norm.weight").shape()).containsExactly(hidden);
    assertThat(tensors).hasSize((int) (3 + 9 * layers));
    for (int i = 0; i < layers; i++) {
      String p = "model.layers." + i + ".";
      assertThat(tensors.get(p + "self_attn.q_proj.weight").shape()).containsExactly(hidden, hidden);
      assertThat(tensors.get(p + "self_attn.k_proj.weight").shape()).containsExactly(kvDim, hidden);
      assertThat(tensors.get(p + "mlp.down_proj.weight").shape()).containsExactly(hidden, intermediate);
      assertThat(tensors.get(p + "input_layernorm.weight").dtype()).isEqualTo("F32");
    }
  }

  private static void checkTokenizer(Path repo, int vocabSize) throws IOException {
    JsonObject tokenizer = json(repo.resolve("tokenizer.json"));
    JsonObject model = tokenizer.getJsonObject("model");
    assertThat(model.getString("type")).isEqualTo("WordLevel");
    assertThat(model.getJsonObject("vocab").size()).isEqualTo(vocabSize);
    assertThat(model.getJsonObject("vocab").getInteger("<s>")).isEqualTo(1);
    JsonArray added = tokenizer.getJsonArray("added_tokens");
    assertThat(added.getJsonObject(2).getString("content")).isEqualTo("</s>");
    assertThat(json(repo.resolve("tokenizer_config.json")).getString("eos_token")).isEqualTo("</s>");
    assertThat(json(repo.resolve("special_tokens_map.json")).getString("bos_token")).isEqualTo("<s>");
  }

  private static Map<String, TensorInfo> tensorsByName(List<SafetensorsFile> files) {
    Map<String, TensorInfo> byName = new HashMap<>();
    files.forEach(f -> f.tensors().forEach(t -> byName.put(t.name(), t)));
    return byName;
  }

  private static Path repo(String name) {
    return root.resolve(name);
  }

  private static JsonObject json(Path file) throws IOException {
    return new JsonObject(Files.readString(file));
  }

  private static List<String> fileNames(Path dir) throws IOException {
    try (Stream<Path> files = Files.list(dir)) {
      return files.map(p -> p.getFileName().toString()).sorted().toList();
    }
  }

  private static long totalSize(Path dir, String suffix) throws IOException {
    long n = 0;
    for (String name : fileNames(dir)) {
      if (name.endsWith(suffix)) {
        n += Files.size(dir.resolve(name));
      }
    }
    return n;
  }

  /** File name → size and sha256 of every file in a repository. */
  private static Map<String, String> digests(Path repo) throws IOException, NoSuchAlgorithmException {
    Map<String, String> out = new TreeMap<>();
    for (String name : fileNames(repo)) {
      MessageDigest sha = MessageDigest.getInstance("SHA-256");
      byte[] buf = new byte[1 << 20];
      try (InputStream in = Files.newInputStream(repo.resolve(name))) {
        for (int n; (n = in.read(buf)) > 0; ) {
          sha.update(buf, 0, n);
        }
      }
      out.put(name, Files.size(repo.resolve(name)) + " " + HexFormat.of().formatHex(sha.digest()));
    }
    return out;
  }
}
