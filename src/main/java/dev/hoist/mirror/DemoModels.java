package dev.hoist.mirror;

import dev.hoist.format.DataSource;
import dev.hoist.format.GgmlType;
import dev.hoist.format.GgufWriter;
import dev.hoist.format.SafetensorsDtype;
import dev.hoist.format.SafetensorsWriter;
import dev.hoist.format.TensorInfo;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.stream.Stream;

/**
 * The demo repositories of the local mirror: small llama-shaped models with random weights, generated
 * on first use so that Hoist can be tried (and tested) without reaching a real hub.
 *
 * <p>Every file is deterministic: the same bytes on every machine and every run, so their hashes
 * are stable. A repository is generated in a hidden directory beside its final place and renamed
 * into place in one atomic step, so a crash never leaves half a repository behind.
 */
public final class DemoModels {

  public static final String TINY = "hoist/demo-tiny";
  public static final String SHARDED = "hoist/demo-sharded";
  public static final String GGUF = "hoist/demo-gguf";

  /** The demo repositories, as {@code owner/name}. */
  public static final List<String> REPOS = List.of(TINY, SHARDED, GGUF);

  private static final long SEED = 0x486f697374L; // "Hoist"
  private static final String PARTIAL = ".partial-";
  private static final int MAX_POSITIONS = 2048;
  private static final int BOS = 1;
  private static final int EOS = 2;

  private DemoModels() {
  }

  /**
   * Makes sure every demo repository exists under {@code mirrorRoot/<owner>/<name>/}, generating
   * the missing ones. A repository directory that exists is left as it is.
   */
  public static synchronized void ensure(Path mirrorRoot) throws IOException {
    for (String repo : REPOS) {
      Path target = mirrorRoot.resolve(repo);
      if (Files.exists(target)) {
        continue;
      }
      Path parent = target.getParent();
      Files.createDirectories(parent);
      String name = target.getFileName().toString();
      removeAbandoned(parent, name);
      // Named after our pid, so that a later run can tell an abandoned directory from a live one.
      Path partial = parent.resolve("." + name + PARTIAL + ProcessHandle.current().pid());
      deleteRecursively(partial);
      Files.createDirectory(partial);
      try {
        generate(repo, partial);
        try {
          Files.move(partial, target, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
          if (!Files.exists(target)) {
            throw e;
          }
          // Another process finished the same repository first; its copy is identical.
        }
      } finally {
        deleteRecursively(partial);
      }
    }
  }

  // ------------------------------------------------------------------ repositories

  private static void generate(String repo, Path dir) throws IOException {
    switch (repo) {
      case TINY -> tiny(dir);
      case SHARDED -> sharded(dir);
      case GGUF -> gguf(dir);
      default -> throw new IllegalArgumentException(repo);
    }
  }

  /** The shape of a llama model; enough to name its tensors and write its config. */
  private record Llama(int vocab, int hidden, int intermediate, int layers, int heads, int kvHeads) {
    int headDim() {
      return hidden / heads;
    }

    long kvDim() {
      return (long) kvHeads * headDim();
    }
  }

  /** Dtypes of a safetensors llama: embeddings, attention, MLP, norms, lm_head. */
  private record Dtypes(SafetensorsDtype embed, SafetensorsDtype attention, SafetensorsDtype mlp,
      SafetensorsDtype norm, SafetensorsDtype head) {
  }

  /** About 16 MiB: one file, two layers, a mix of F32, F16 and BF16. */
  private static void tiny(Path dir) throws IOException {
    Llama m = new Llama(512, 512, 1728, 2, 8, 8);
    SafetensorsWriter w = new SafetensorsWriter().metadata("format", "pt");
    embed(w, m, SafetensorsDtype.F32);
    for (int i = 0; i < m.layers(); i++) {
      // Layer 0 in F16, layer 1 in BF16: a file that mixes dtypes, as fine-tunes often do.
      SafetensorsDtype t = i % 2 == 0 ? SafetensorsDtype.F16 : SafetensorsDtype.BF16;
      layer(w, m, i, new Dtypes(null, t, t, SafetensorsDtype.F32, null));
    }
    head(w, m, SafetensorsDtype.F32, SafetensorsDtype.F32);
    w.write(dir.resolve("model.safetensors"), DataSource.random(SEED));

    writeJson(dir.resolve("config.json"), config(m, "float16"));
    writeHfTokenizer(dir, m.vocab());
    writeText(dir.resolve("README.md"), readme(TINY,
        "A two-layer llama-shaped model (" + m.hidden() + " hidden, " + m.vocab() + " tokens) in one "
            + "`model.safetensors` of about 16 MiB, mixing F32, F16 and BF16 tensors."));
  }

  /** About 256 MiB in four shards with an index; F16 attention, BF16 MLP and embeddings, F32 norms. */
  private static void sharded(Path dir) throws IOException {
    Llama m = new Llama(1024, 1024, 2752, 12, 16, 4);
    Dtypes dtypes = new Dtypes(SafetensorsDtype.BF16, SafetensorsDtype.F16, SafetensorsDtype.BF16,
        SafetensorsDtype.F32, SafetensorsDtype.F16);
    int shards = 4;
    int layersPerShard = m.layers() / shards;
    Map<String, String> weightMap = new TreeMap<>(); // the hub's index lists tensors sorted by name
    long totalSize = 0;
    for (int s = 0; s < shards; s++) {
      String file = String.format(Locale.ROOT, "model-%05d-of-%05d.safetensors", s + 1, shards);
      SafetensorsWriter w = new SafetensorsWriter().metadata("format", "pt");
      if (s == 0) {
        embed(w, m, dtypes.embed());
      }
      for (int i = s * layersPerShard; i < (s + 1) * layersPerShard; i++) {
        layer(w, m, i, dtypes);
      }
      if (s == shards - 1) {
        head(w, m, dtypes.norm(), dtypes.head());
      }
      w.write(dir.resolve(file), DataSource.random(SEED));
      for (TensorInfo t : w.layout()) {
        weightMap.put(t.name(), file);
      }
      totalSize += w.dataLength();
    }
    JsonObject index = new JsonObject()
        .put("metadata", new JsonObject().put("total_size", totalSize))
        .put("weight_map", new JsonObject(new LinkedHashMap<String, Object>(weightMap)));
    writeJson(dir.resolve("model.safetensors.index.json"), index);

    writeJson(dir.resolve("config.json"), config(m, "bfloat16"));
    writeHfTokenizer(dir, m.vocab());
    writeText(dir.resolve("README.md"), readme(SHARDED,
        "A " + m.layers() + "-layer llama-shaped model (" + m.hidden() + " hidden, grouped-query attention) "
            + "of about 256 MiB in " + shards + " safetensors shards with a `model.safetensors.index.json`."));
  }

  /** About 64 MiB: one GGUF file, mostly Q8_0, with Q4_0 down-projections, F16 output and F32 norms. */
  private static void gguf(Path dir) throws IOException {
    Llama m = new Llama(512, 1024, 2816, 6, 16, 4);
    List<String> tokens = sentencePieceVocab(m.vocab());
    float[] scores = new float[tokens.size()];
    int[] types = new int[tokens.size()];
    for (int i = 0; i < tokens.size(); i++) {
      String t = tokens.get(i);
      // llama.cpp token types: 1 normal, 2 unknown, 3 control, 6 byte.
      types[i] = i == 0 ? 2 : i <= EOS ? 3 : t.startsWith("<0x") ? 6 : 1;
      scores[i] = types[i] == 1 ? -i : 0f;
    }
    GgufWriter w = new GgufWriter()
        .putString("general.architecture", "llama")
        .putString("general.type", "model")
        .putString("general.name", "Hoist Demo GGUF")
        .putU32("general.file_type", 7) // LLAMA_FTYPE_MOSTLY_Q8_0
        .putU32("general.quantization_version", 2)
        .putU32("llama.context_length", MAX_POSITIONS)
        .putU32("llama.embedding_length", m.hidden())
        .putU32("llama.block_count", m.layers())
        .putU32("llama.feed_forward_length", m.intermediate())
        .putU32("llama.attention.head_count", m.heads())
        .putU32("llama.attention.head_count_kv", m.kvHeads())
        .putF32("llama.attention.layer_norm_rms_epsilon", 1e-5f)
        .putF32("llama.rope.freq_base", 10000f)
        .putU32("llama.rope.dimension_count", m.headDim())
        .putU32("llama.vocab_size", m.vocab())
        .putString("tokenizer.ggml.model", "llama")
        .putStrings("tokenizer.ggml.tokens", tokens)
        .putF32s("tokenizer.ggml.scores", scores)
        .putI32s("tokenizer.ggml.token_type", types)
        .putU32("tokenizer.ggml.unknown_token_id", 0)
        .putU32("tokenizer.ggml.bos_token_id", BOS)
        .putU32("tokenizer.ggml.eos_token_id", EOS)
        .putBool("tokenizer.ggml.add_bos_token", true)
        .putBool("tokenizer.ggml.add_eos_token", false);
    // ggml order: ne[0] (the input width) first.
    w.tensor("token_embd.weight", GgmlType.Q8_0, m.hidden(), m.vocab());
    for (int i = 0; i < m.layers(); i++) {
      String b = "blk." + i + ".";
      w.tensor(b + "attn_norm.weight", GgmlType.F32, m.hidden())
          .tensor(b + "attn_q.weight", GgmlType.Q8_0, m.hidden(), m.hidden())
          .tensor(b + "attn_k.weight", GgmlType.Q8_0, m.hidden(), m.kvDim())
          .tensor(b + "attn_v.weight", GgmlType.Q8_0, m.hidden(), m.kvDim())
          .tensor(b + "attn_output.weight", GgmlType.Q8_0, m.hidden(), m.hidden())
          .tensor(b + "ffn_norm.weight", GgmlType.F32, m.hidden())
          .tensor(b + "ffn_gate.weight", GgmlType.Q8_0, m.hidden(), m.intermediate())
          .tensor(b + "ffn_up.weight", GgmlType.Q8_0, m.hidden(), m.intermediate())
          .tensor(b + "ffn_down.weight", GgmlType.Q4_0, m.intermediate(), m.hidden());
    }
    w.tensor("output_norm.weight", GgmlType.F32, m.hidden())
        .tensor("output.weight", GgmlType.F16, m.hidden(), m.vocab());
    w.write(dir.resolve("demo-gguf.Q8_0.gguf"), DataSource.random(SEED));

    writeText(dir.resolve("README.md"), readme(GGUF,
        "A " + m.layers() + "-layer llama model in one GGUF v3 file, `demo-gguf.Q8_0.gguf`, of about 64 MiB: "
            + "Q8_0 weights, Q4_0 feed-forward down-projections, F16 output and F32 norms, with a "
            + m.vocab() + "-token SentencePiece-style vocabulary in its metadata."));
  }

  // ------------------------------------------------------------------ llama tensors (Hugging Face names)

  private static void embed(SafetensorsWriter w, Llama m, SafetensorsDtype dtype) {
    w.tensor("model.embed_tokens.weight", dtype, m.vocab(), m.hidden());
  }

  private static void layer(SafetensorsWriter w, Llama m, int i, Dtypes d) {
    String p = "model.layers." + i + ".";
    w.tensor(p + "input_layernorm.weight", d.norm(), m.hidden())
        .tensor(p + "self_attn.q_proj.weight", d.attention(), m.hidden(), m.hidden())
        .tensor(p + "self_attn.k_proj.weight", d.attention(), m.kvDim(), m.hidden())
        .tensor(p + "self_attn.v_proj.weight", d.attention(), m.kvDim(), m.hidden())
        .tensor(p + "self_attn.o_proj.weight", d.attention(), m.hidden(), m.hidden())
        .tensor(p + "post_attention_layernorm.weight", d.norm(), m.hidden())
        .tensor(p + "mlp.gate_proj.weight", d.mlp(), m.intermediate(), m.hidden())
        .tensor(p + "mlp.up_proj.weight", d.mlp(), m.intermediate(), m.hidden())
        .tensor(p + "mlp.down_proj.weight", d.mlp(), m.hidden(), m.intermediate());
  }

  private static void head(SafetensorsWriter w, Llama m, SafetensorsDtype norm, SafetensorsDtype head) {
    w.tensor("model.norm.weight", norm, m.hidden())
        .tensor("lm_head.weight", head, m.vocab(), m.hidden());
  }

  private static JsonObject config(Llama m, String torchDtype) {
    return new JsonObject()
        .put("architectures", new JsonArray().add("LlamaForCausalLM"))
        .put("model_type", "llama")
        .put("attention_bias", false)
        .put("bos_token_id", BOS)
        .put("eos_token_id", EOS)
        .put("hidden_act", "silu")
        .put("hidden_size", m.hidden())
        .put("initializer_range", 0.02)
        .put("intermediate_size", m.intermediate())
        .put("max_position_embeddings", MAX_POSITIONS)
        .put("num_attention_heads", m.heads())
        .put("num_hidden_layers", m.layers())
        .put("num_key_value_heads", m.kvHeads())
        .put("rms_norm_eps", 1e-5)
        .put("rope_theta", 10000.0)
        .put("tie_word_embeddings", false)
        .put("torch_dtype", torchDtype)
        .put("use_cache", true)
        .put("vocab_size", m.vocab());
  }

  // ------------------------------------------------------------------ tokenizers

  /** tokenizer.json (a word-level model), tokenizer_config.json, special_tokens_map.json, generation_config.json. */
  private static void writeHfTokenizer(Path dir, int vocabSize) throws IOException {
    List<String> vocab = new ArrayList<>(List.of("<unk>", "<s>", "</s>"));
    vocab.addAll(words(vocabSize - vocab.size()));
    JsonObject ids = new JsonObject();
    for (int i = 0; i < vocab.size(); i++) {
      ids.put(vocab.get(i), i);
    }
    JsonArray added = new JsonArray();
    for (int i = 0; i <= EOS; i++) {
      added.add(new JsonObject()
          .put("id", i)
          .put("content", vocab.get(i))
          .put("single_word", false)
          .put("lstrip", false)
          .put("rstrip", false)
          .put("normalized", false)
          .put("special", true));
    }
    JsonObject tokenizer = new JsonObject()
        .put("version", "1.0")
        .putNull("truncation")
        .putNull("padding")
        .put("added_tokens", added)
        .put("normalizer", new JsonObject().put("type", "Lowercase"))
        .put("pre_tokenizer", new JsonObject().put("type", "Whitespace"))
        .put("post_processor", new JsonObject()
            .put("type", "TemplateProcessing")
            .put("single", new JsonArray()
                .add(new JsonObject().put("SpecialToken", new JsonObject().put("id", "<s>").put("type_id", 0)))
                .add(new JsonObject().put("Sequence", new JsonObject().put("id", "A").put("type_id", 0))))
            .put("pair", new JsonArray()
                .add(new JsonObject().put("SpecialToken", new JsonObject().put("id", "<s>").put("type_id", 0)))
                .add(new JsonObject().put("Sequence", new JsonObject().put("id", "A").put("type_id", 0)))
                .add(new JsonObject().put("Sequence", new JsonObject().put("id", "B").put("type_id", 1))))
            .put("special_tokens", new JsonObject()
                .put("<s>", new JsonObject().put("id", "<s>").put("ids", new JsonArray().add(BOS))
                    .put("tokens", new JsonArray().add("<s>")))))
        .putNull("decoder") // word-level: decoding joins tokens with spaces
        .put("model", new JsonObject()
            .put("type", "WordLevel")
            .put("vocab", ids)
            .put("unk_token", "<unk>"));
    writeJson(dir.resolve("tokenizer.json"), tokenizer);

    writeJson(dir.resolve("tokenizer_config.json"), new JsonObject()
        .put("add_bos_token", true)
        .put("add_eos_token", false)
        .put("bos_token", "<s>")
        .put("eos_token", "</s>")
        .put("unk_token", "<unk>")
        .put("clean_up_tokenization_spaces", false)
        .put("model_max_length", MAX_POSITIONS)
        .put("tokenizer_class", "PreTrainedTokenizerFast"));
    writeJson(dir.resolve("special_tokens_map.json"), new JsonObject()
        .put("bos_token", "<s>")
        .put("eos_token", "</s>")
        .put("unk_token", "<unk>"));
    writeJson(dir.resolve("generation_config.json"), new JsonObject()
        .put("bos_token_id", BOS)
        .put("eos_token_id", EOS)
        .put("do_sample", false)
        .put("max_length", MAX_POSITIONS));
  }

  /** SentencePiece-style: {@code <unk> <s> </s>}, the 256 byte tokens, then "▁word" pieces. */
  private static List<String> sentencePieceVocab(int size) {
    List<String> tokens = new ArrayList<>(List.of("<unk>", "<s>", "</s>"));
    for (int b = 0; b < 256; b++) {
      tokens.add(String.format(Locale.ROOT, "<0x%02X>", b));
    }
    for (String w : words(size - tokens.size())) {
      tokens.add("\u2581" + w);
    }
    return tokens;
  }

  private static final String[] COMMON_WORDS = (
      "the of and to in is it you that he was for on are with as his they be at one have this from or had by "
          + "word but what some we can out other were all there when up use your how said an each she which do "
          + "their time if will way about many then them write would like so these her long make thing see him "
          + "two has look more day could go come did number sound no most people my over know water than call "
          + "first who may down side been now find any new work part take get place made live where after back "
          + "little only round man year came show every good me give our under name very through just form "
          + "sentence great think say help low line differ turn cause much mean before move right boy old too "
          + "same tell does set three want air well also play small end put home read hand port large spell add "
          + "even land here must big high such follow act why ask men change went light kind off need house "
          + "picture try us again animal point mother world near build self earth father model hoist load tensor")
      .split(" ");

  /** {@code n} distinct lower-case words: common English ones, then made-up syllables. */
  private static List<String> words(int n) {
    String consonants = "bcdfghjklmnprstvwz";
    String vowels = "aeiou";
    List<String> candidates = new ArrayList<>(List.of(COMMON_WORDS));
    for (char v : vowels.toCharArray()) {
      for (char c : consonants.toCharArray()) {
        candidates.add("" + c + v); // "ba", "ca", ...
      }
    }
    for (char end : consonants.toCharArray()) {
      for (char v : vowels.toCharArray()) {
        for (char c : consonants.toCharArray()) {
          candidates.add("" + c + v + end); // "bab", "cab", ...
        }
      }
    }
    Set<String> out = new LinkedHashSet<>();
    for (String w : candidates) {
      if (out.size() == n) {
        break;
      }
      out.add(w);
    }
    if (out.size() < n) {
      throw new IllegalArgumentException("cannot make " + n + " distinct words");
    }
    return List.copyOf(out);
  }

  // ------------------------------------------------------------------ files

  private static String readme(String repo, String what) {
    return "---\nlicense: apache-2.0\ntags:\n- hoist\n- demo\n---\n\n"
        + "# " + repo + "\n\n"
        + "A demo model generated by Hoist. " + what + "\n\n"
        + "The weights are deterministic pseudo-random numbers, not a trained model: it loads like a real "
        + "model but produces nonsense. It exists to try Hoist's download and load pipeline without a real hub.\n";
  }

  private static void writeJson(Path file, JsonObject json) throws IOException {
    // The pretty printer ends lines the platform's way; the files must be the same bytes everywhere.
    writeText(file, json.encodePrettily().replace(System.lineSeparator(), "\n") + "\n");
  }

  private static void writeText(Path file, String text) throws IOException {
    Files.write(file, text.getBytes(StandardCharsets.UTF_8));
  }

  /** Deletes partial directories of {@code name} left by processes that are no longer running. */
  private static void removeAbandoned(Path parent, String name) throws IOException {
    String prefix = "." + name + PARTIAL;
    List<Path> abandoned = new ArrayList<>();
    try (Stream<Path> siblings = Files.list(parent)) {
      siblings.filter(p -> p.getFileName().toString().startsWith(prefix)).forEach(p -> {
        String pid = p.getFileName().toString().substring(prefix.length());
        boolean alive;
        try {
          alive = ProcessHandle.of(Long.parseLong(pid)).map(ProcessHandle::isAlive).orElse(false);
        } catch (NumberFormatException e) {
          alive = false;
        }
        if (!alive) {
          abandoned.add(p);
        }
      });
    }
    for (Path p : abandoned) {
      deleteRecursively(p);
    }
  }

  private static void deleteRecursively(Path dir) throws IOException {
    if (!Files.exists(dir)) {
      return;
    }
    try (Stream<Path> paths = Files.walk(dir)) {
      for (Path p : paths.sorted(Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(p);
      }
    }
  }
}
