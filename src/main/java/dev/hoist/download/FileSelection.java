package dev.hoist.download;

import dev.hoist.contract.ErrorCode;
import dev.hoist.contract.HoistException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * The files a user expects for a model: the weights (every top-level {@code *.safetensors} with its
 * index, or one {@code *.gguf}) plus config and tokenizer files. Not every file of the repo: many
 * repos carry the same weights again as {@code .bin}, ONNX or in {@code original/}.
 */
final class FileSelection {

  static final Set<String> SUPPORT_FILES = Set.of(
      "config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json",
      "tokenizer.model", "special_tokens_map.json", "vocab.json", "merges.txt", "added_tokens.json",
      "preprocessor_config.json", "chat_template.json", "chat_template.jinja", "model.safetensors.index.json");

  /** Preferred GGUF quantizations when a repo offers several and none was asked for. */
  private static final List<String> GGUF_PREFERENCE = List.of("q4_k_m", "q5_k_m", "q8_0", "q4_0");

  private FileSelection() {
  }

  static List<RemoteFile> select(List<RemoteFile> all, String repo) {
    List<RemoteFile> top = new ArrayList<>();
    for (RemoteFile f : all) {
      if (!f.path.contains("/")) {
        top.add(f);
      }
    }
    List<RemoteFile> weights = new ArrayList<>();
    for (RemoteFile f : top) {
      if (f.path.toLowerCase(Locale.ROOT).endsWith(".safetensors")) {
        weights.add(f);
      }
    }
    if (weights.isEmpty()) {
      RemoteFile gguf = pickGguf(top);
      if (gguf != null) {
        weights.add(gguf);
      }
    }
    if (weights.isEmpty()) {
      throw new HoistException(ErrorCode.NO_MODEL_FILES, "repo " + repo
          + " has no *.safetensors or *.gguf files at its top level; Hoist loads safetensors and GGUF models");
    }
    List<RemoteFile> selected = new ArrayList<>();
    for (RemoteFile f : top) {
      if (SUPPORT_FILES.contains(f.path)) {
        selected.add(f);
      }
    }
    selected.addAll(weights);
    selected.sort(Comparator.comparing(f -> f.path));
    return selected;
  }

  private static RemoteFile pickGguf(List<RemoteFile> top) {
    List<RemoteFile> ggufs = new ArrayList<>();
    for (RemoteFile f : top) {
      if (f.path.toLowerCase(Locale.ROOT).endsWith(".gguf")) {
        ggufs.add(f);
      }
    }
    if (ggufs.isEmpty()) {
      return null;
    }
    ggufs.sort(Comparator.comparing(f -> f.path));
    for (String quant : GGUF_PREFERENCE) {
      for (RemoteFile f : ggufs) {
        if (f.path.toLowerCase(Locale.ROOT).contains(quant)) {
          return f;
        }
      }
    }
    return ggufs.get(0);
  }
}
