package dev.hoist.download;

import dev.hoist.contract.ErrorCode;
import dev.hoist.contract.HoistException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

/**
 * The files a user expects for a model. By default: the weights (every top-level
 * {@code *.safetensors} with its index, or one {@code *.gguf}) plus config and tokenizer files — not
 * every file of the repo: many repos carry the same weights again as {@code .bin}, ONNX or in
 * {@code original/}.
 *
 * <p>Request options change that:
 * <ul>
 *   <li>{@code file} and/or {@code include}: <em>exactly</em> the named file plus the files matching
 *       a pattern, nothing added. Config and tokenizer files are fetched only if they match: a user
 *       who lists files means those files (as {@code huggingface-cli download --include} does), and
 *       the load stage does without them.</li>
 *   <li>{@code quantization}: the GGUF file (or every part of a split GGUF) whose path contains it,
 *       case-insensitive, instead of the default weights; with {@code file}/{@code include} it
 *       narrows the GGUF files among those.</li>
 * </ul>
 */
final class FileSelection {

  static final Set<String> SUPPORT_FILES = Set.of(
      "config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json",
      "tokenizer.model", "special_tokens_map.json", "vocab.json", "merges.txt", "added_tokens.json",
      "preprocessor_config.json", "chat_template.json", "chat_template.jinja", "model.safetensors.index.json");

  /** Preferred GGUF quantizations when a repo offers several and none was asked for. */
  private static final List<String> GGUF_PREFERENCE = List.of("q4_k_m", "q5_k_m", "q8_0", "q4_0");
  /** A quantization label inside a GGUF file name, to tell the user what a repo offers. */
  private static final Pattern QUANT_LABEL = Pattern.compile(
      "(?i)(?<![a-z0-9])(i?q[0-9]+(?:_[a-z0-9]+)*|bf16|f16|f32|fp16|fp32)(?![a-z0-9])");
  /** The part number of a split GGUF: {@code name-00001-of-00003.gguf}. */
  private static final Pattern SPLIT_PART = Pattern.compile("-\\d{5}-of-\\d{5}(?=\\.gguf$)", Pattern.CASE_INSENSITIVE);
  private static final int MAX_LISTED = 20;

  private FileSelection() {
  }

  static List<RemoteFile> select(List<RemoteFile> all, String repo) {
    return select(all, repo, DownloadOptions.NONE);
  }

  static List<RemoteFile> select(List<RemoteFile> all, String repo, DownloadOptions options) {
    List<RemoteFile> selected;
    if (options.namesFiles()) {
      selected = named(all, repo, options);
      if (options.quantization != null) {
        List<RemoteFile> ggufs = selected.stream().filter(FileSelection::isGguf).collect(Collectors.toList());
        List<RemoteFile> chosen = byQuantization(ggufs, options.quantization, repo);
        selected.removeIf(f -> isGguf(f) && !chosen.contains(f));
      }
    } else if (options.quantization != null) {
      selected = supportFiles(all);
      selected.addAll(byQuantization(all.stream().filter(FileSelection::isGguf).collect(Collectors.toList()),
          options.quantization, repo));
    } else {
      selected = defaults(all, repo);
    }
    selected.sort(Comparator.comparing(f -> f.path));
    return selected;
  }

  /** {@code file} plus whatever {@code include} matches, in any folder. */
  private static List<RemoteFile> named(List<RemoteFile> all, String repo, DownloadOptions options) {
    Set<RemoteFile> out = new LinkedHashSet<>();
    if (options.file != null) {
      RemoteFile exact = all.stream().filter(f -> f.path.equals(options.file)).findFirst().orElse(null);
      if (exact == null) {
        throw new HoistException(ErrorCode.MODEL_NOT_FOUND, "file '" + options.file + "' is not in " + repo
            + "; it has: " + listed(all.stream().map(f -> f.path).collect(Collectors.toList())));
      }
      out.add(exact);
    }
    for (RemoteFile f : all) {
      if (options.include.stream().anyMatch(g -> g.matches(f.path))) {
        out.add(f);
      }
    }
    if (out.isEmpty()) {
      throw new HoistException(ErrorCode.NO_MODEL_FILES, "no file of " + repo + " matches include " + options.include
          + "; it has: " + listed(all.stream().map(f -> f.path).collect(Collectors.toList())));
    }
    return new ArrayList<>(out);
  }

  private static List<RemoteFile> defaults(List<RemoteFile> all, String repo) {
    List<RemoteFile> weights = new ArrayList<>();
    for (RemoteFile f : all) {
      if (isTopLevel(f) && f.path.toLowerCase(Locale.ROOT).endsWith(".safetensors")) {
        weights.add(f);
      }
    }
    if (weights.isEmpty()) {
      RemoteFile gguf = preferredGguf(all);
      if (gguf != null) {
        weights.add(gguf);
      }
    }
    if (weights.isEmpty()) {
      throw new HoistException(ErrorCode.NO_MODEL_FILES, "repo " + repo
          + " has no *.safetensors or *.gguf files at its top level; Hoist loads safetensors and GGUF models");
    }
    List<RemoteFile> selected = supportFiles(all);
    selected.addAll(weights);
    return selected;
  }

  private static List<RemoteFile> supportFiles(List<RemoteFile> all) {
    List<RemoteFile> out = new ArrayList<>();
    for (RemoteFile f : all) {
      if (isTopLevel(f) && SUPPORT_FILES.contains(f.path)) {
        out.add(f);
      }
    }
    return out;
  }

  private static RemoteFile preferredGguf(List<RemoteFile> all) {
    List<RemoteFile> ggufs = new ArrayList<>();
    for (RemoteFile f : all) {
      if (isTopLevel(f) && isGguf(f)) {
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

  /**
   * The GGUF whose path contains {@code quant} (case-insensitive), with every part if it is split.
   * Where the label appears as a whole word ({@code Q4_K_M} in {@code model.Q4_K_M.gguf}, not in
   * {@code model.IQ4_K_M.gguf}) that match wins; several different files still matching is an error
   * rather than a guess.
   */
  static List<RemoteFile> byQuantization(List<RemoteFile> ggufs, String quant, String repo) {
    String q = quant.toLowerCase(Locale.ROOT);
    Map<String, List<RemoteFile>> contains = new LinkedHashMap<>();
    Map<String, List<RemoteFile>> exact = new LinkedHashMap<>();
    Pattern word = Pattern.compile("(?<![a-z0-9_])" + Pattern.quote(q) + "(?![a-z0-9_])");
    List<RemoteFile> sorted = new ArrayList<>(ggufs);
    sorted.sort(Comparator.comparing(f -> f.path));
    for (RemoteFile f : sorted) {
      String lower = f.path.toLowerCase(Locale.ROOT);
      if (lower.contains(q)) {
        String set = SPLIT_PART.matcher(f.path).replaceFirst("");
        contains.computeIfAbsent(set, k -> new ArrayList<>()).add(f);
        if (word.matcher(lower).find()) {
          exact.computeIfAbsent(set, k -> new ArrayList<>()).add(f);
        }
      }
    }
    Map<String, List<RemoteFile>> sets = exact.isEmpty() ? contains : exact;
    if (sets.isEmpty()) {
      if (ggufs.isEmpty()) {
        throw new HoistException(ErrorCode.MODEL_NOT_FOUND, repo + " has no GGUF files, so quantization '" + quant
            + "' cannot be chosen; leave quantization out to get its safetensors weights");
      }
      throw new HoistException(ErrorCode.MODEL_NOT_FOUND, repo + " has no GGUF file for quantization '" + quant
          + "'; available quantizations: " + available(ggufs));
    }
    if (sets.size() > 1) {
      throw new HoistException(ErrorCode.BAD_REQUEST, "quantization '" + quant + "' matches several GGUF files of " + repo
          + ": " + listed(new ArrayList<>(sets.keySet())) + "; name one with a more specific quantization or with file");
    }
    return sets.values().iterator().next();
  }

  /** The quantization labels of the GGUF files, e.g. {@code Q4_K_M (model.Q4_K_M.gguf)}. */
  private static String available(List<RemoteFile> ggufs) {
    Set<String> labels = new LinkedHashSet<>();
    List<RemoteFile> sorted = new ArrayList<>(ggufs);
    sorted.sort(Comparator.comparing(f -> f.path));
    for (RemoteFile f : sorted) {
      String name = SPLIT_PART.matcher(f.path).replaceFirst("");
      Matcher m = QUANT_LABEL.matcher(name.substring(0, name.length() - ".gguf".length()));
      String label = null;
      while (m.find()) {
        label = m.group(1).toUpperCase(Locale.ROOT);
      }
      labels.add(label == null ? name : label + " (" + name + ")");
    }
    return listed(new ArrayList<>(labels));
  }

  private static String listed(List<String> items) {
    if (items.size() <= MAX_LISTED) {
      return String.join(", ", items);
    }
    return String.join(", ", items.subList(0, MAX_LISTED)) + " and " + (items.size() - MAX_LISTED) + " more";
  }

  private static boolean isTopLevel(RemoteFile f) {
    return !f.path.contains("/");
  }

  static boolean isGguf(RemoteFile f) {
    return f.path.toLowerCase(Locale.ROOT).endsWith(".gguf");
  }
}
