package dev.hoist.mirror;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;

/**
 * A directory served as a hub repository: each file gets the ids a git + LFS hub would give it
 * (git blob sha1; for large and weight files an LFS pointer with the content's sha256), and the
 * repository a commit id derived from them, so the same bytes always have the same commit.
 */
final class MirrorRepo {

  /** Files stored with LFS on a real hub: weights, and anything over 10 MiB. */
  private static final long LFS_THRESHOLD = 10L << 20;

  static final class Entry {
    final String path;
    final Path file;
    final long size;
    final long modified;
    final String oid;
    final String lfsSha256;

    Entry(String path, Path file, long size, long modified, String oid, String lfsSha256) {
      this.path = path;
      this.file = file;
      this.size = size;
      this.modified = modified;
      this.oid = oid;
      this.lfsSha256 = lfsSha256;
    }

    String etag() {
      return lfsSha256 != null ? lfsSha256 : oid;
    }

    JsonObject toJson() {
      JsonObject json = new JsonObject().put("path", path).put("size", size).put("modified", modified).put("oid", oid);
      if (lfsSha256 != null) {
        json.put("lfs_sha256", lfsSha256);
      }
      return json;
    }

    static Entry fromJson(JsonObject json, Path dir) {
      return new Entry(json.getString("path"), dir.resolve(json.getString("path")), json.getLong("size"),
          json.getLong("modified"), json.getString("oid"), json.getString("lfs_sha256"));
    }
  }

  final String repo;
  final String commit;
  final Map<String, Entry> files;

  private MirrorRepo(String repo, Map<String, Entry> files) {
    this.repo = repo;
    this.files = files;
    this.commit = commitOf(files);
  }

  /**
   * Indexes {@code dir}, reusing the hashes of {@code previous} for files whose size and mtime are
   * unchanged (hashing GBs at every start would be slow). Blocking.
   */
  static MirrorRepo index(String repo, Path dir, Map<String, Entry> previous) throws IOException {
    Map<String, Entry> files = new TreeMap<>();
    try (Stream<Path> walk = Files.walk(dir)) {
      for (Path file : (Iterable<Path>) walk.filter(Files::isRegularFile)::iterator) {
        String rel = dir.relativize(file).toString().replace('\\', '/');
        if (rel.startsWith(".") || rel.contains("/.")) {
          continue;
        }
        long size = Files.size(file);
        long modified = Files.getLastModifiedTime(file).toMillis();
        Entry old = previous == null ? null : previous.get(rel);
        if (old != null && old.size == size && old.modified == modified) {
          files.put(rel, new Entry(rel, file, size, modified, old.oid, old.lfsSha256));
        } else {
          files.put(rel, hash(rel, file, size, modified));
        }
      }
    }
    return new MirrorRepo(repo, files);
  }

  private static Entry hash(String rel, Path file, long size, long modified) throws IOException {
    boolean lfs = size > LFS_THRESHOLD || isWeights(rel);
    MessageDigest sha1 = digest("SHA-1");
    MessageDigest sha256 = digest("SHA-256");
    if (!lfs) {
      sha1.update(("blob " + size + "\0").getBytes(StandardCharsets.US_ASCII));
    }
    byte[] buffer = new byte[1 << 20];
    try (InputStream in = Files.newInputStream(file)) {
      int n;
      while ((n = in.read(buffer)) > 0) {
        (lfs ? sha256 : sha1).update(buffer, 0, n);
      }
    }
    if (!lfs) {
      return new Entry(rel, file, size, modified, HexFormat.of().formatHex(sha1.digest()), null);
    }
    String content = HexFormat.of().formatHex(sha256.digest());
    String pointer = "version https://git-lfs.github.com/spec/v1\noid sha256:" + content + "\nsize " + size + "\n";
    byte[] pointerBytes = pointer.getBytes(StandardCharsets.US_ASCII);
    MessageDigest pointerSha1 = digest("SHA-1");
    pointerSha1.update(("blob " + pointerBytes.length + "\0").getBytes(StandardCharsets.US_ASCII));
    pointerSha1.update(pointerBytes);
    return new Entry(rel, file, size, modified, HexFormat.of().formatHex(pointerSha1.digest()), content);
  }

  private static boolean isWeights(String path) {
    String lower = path.toLowerCase(Locale.ROOT);
    return lower.endsWith(".safetensors") || lower.endsWith(".gguf") || lower.endsWith(".bin");
  }

  private static String commitOf(Map<String, Entry> files) {
    MessageDigest sha1 = digest("SHA-1");
    files.values().forEach(e -> sha1.update((e.path + "\0" + e.oid + "\n").getBytes(StandardCharsets.UTF_8)));
    return HexFormat.of().formatHex(sha1.digest());
  }

  private static MessageDigest digest(String algorithm) {
    try {
      return MessageDigest.getInstance(algorithm);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  /** {@code GET /api/models/{repo}/revision/{rev}}'s answer. */
  JsonObject revisionJson() {
    JsonArray siblings = new JsonArray();
    files.values().forEach(e -> siblings.add(new JsonObject().put("rfilename", e.path)));
    return new JsonObject().put("_id", commit.substring(0, 24)).put("id", repo).put("modelId", repo).put("sha", commit)
        .put("private", false).put("gated", false).put("siblings", siblings);
  }

  /** {@code GET /api/models/{repo}/tree/{rev}?recursive=true}'s answer. */
  JsonArray treeJson() {
    JsonArray tree = new JsonArray();
    for (Entry e : files.values()) {
      JsonObject item = new JsonObject().put("type", "file").put("oid", e.oid).put("size", e.size).put("path", e.path);
      if (e.lfsSha256 != null) {
        item.put("lfs", new JsonObject().put("oid", e.lfsSha256).put("size", e.size).put("pointerSize", 134));
      }
      tree.add(item);
    }
    return tree;
  }

  JsonObject toJson() {
    JsonArray array = new JsonArray();
    files.values().forEach(e -> array.add(e.toJson()));
    return new JsonObject().put("repo", repo).put("files", array);
  }

  static Map<String, Entry> entriesFromJson(JsonObject json, Path dir) {
    Map<String, Entry> map = new TreeMap<>();
    JsonArray array = json.getJsonArray("files", new JsonArray());
    for (int i = 0; i < array.size(); i++) {
      Entry e = Entry.fromJson(array.getJsonObject(i), dir);
      map.put(e.path, e);
    }
    return map;
  }

  List<String> paths() {
    return new ArrayList<>(files.keySet());
  }
}
