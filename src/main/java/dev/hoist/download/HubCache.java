package dev.hoist.download;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * The Hugging Face cache layout, as huggingface_hub writes it, so other tools can share what Hoist
 * downloads: {@code models--owner--name/blobs/<etag>}, {@code snapshots/<commit>/<path>} as relative
 * links to the blobs, and {@code refs/<revision>} holding the commit. All methods block: call them
 * from a worker.
 */
final class HubCache {

  private static final Pattern COMMIT = Pattern.compile("[0-9a-f]{40}");

  final Path root;

  HubCache(Path root) {
    this.root = root;
  }

  Path repoDir(String repo) {
    return root.resolve("models--" + repo.replace("/", "--"));
  }

  Path blob(String repo, String etag) {
    return repoDir(repo).resolve("blobs").resolve(etag);
  }

  Path incomplete(String repo, String etag) {
    return repoDir(repo).resolve("blobs").resolve(etag + ".incomplete");
  }

  /**
   * The data of a ranged transfer: written out of order, so not a valid prefix. Deliberately not
   * {@code .incomplete}: huggingface_hub resumes an {@code .incomplete} file from its size, which for
   * a file with holes would produce a corrupt blob.
   */
  Path ranged(String repo, String etag) {
    return repoDir(repo).resolve("blobs").resolve(etag + ".ranged");
  }

  /** The sidecar of {@link #ranged}: which of its ranges hold data, so a restart resumes each one. */
  Path rangedParts(String repo, String etag) {
    return repoDir(repo).resolve("blobs").resolve(etag + ".ranged.parts");
  }

  /**
   * The lock a process holds while it fetches a blob, where huggingface_hub keeps its own:
   * {@code <cache>/.locks/models--owner--name/<etag>.lock}. The file stays (deleting a lock file
   * another process has open would let a third lock a new one); the OS drops the lock with its holder.
   */
  Path lock(String repo, String etag) {
    return root.resolve(".locks").resolve(repoDir(repo).getFileName()).resolve(etag + ".lock");
  }

  Path snapshotDir(String repo, String commit) {
    return repoDir(repo).resolve("snapshots").resolve(commit);
  }

  /** A blob that exists with the expected size is complete: only verified blobs are ever renamed into place. */
  boolean hasBlob(String repo, RemoteFile file) {
    Path blob = blob(repo, file.etag());
    try {
      return Files.isRegularFile(blob) && Files.size(blob) == file.size;
    } catch (IOException e) {
      return false;
    }
  }

  /** Points {@code snapshots/<commit>/<path>} at the blob with a relative link, as huggingface_hub does. */
  Path link(String repo, String commit, RemoteFile file) throws IOException {
    Path link = snapshotDir(repo, commit).resolve(file.path);
    Files.createDirectories(link.getParent());
    Path target = link.getParent().relativize(blob(repo, file.etag()));
    if (Files.isSymbolicLink(link) && Files.readSymbolicLink(link).equals(target)) {
      return link;
    }
    Path tmp = link.resolveSibling(link.getFileName() + ".hoist-link");
    Files.deleteIfExists(tmp);
    Files.createSymbolicLink(tmp, target);
    Files.move(tmp, link, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    return link;
  }

  void writeRef(String repo, String revision, String commit) throws IOException {
    if (revision.equals(commit)) {
      return;
    }
    Path ref = repoDir(repo).resolve("refs").resolve(revision);
    if (commit.equals(commitFor(repo, revision))) {
      return; // already so: rewriting it would need disk space a full disk does not have
    }
    Files.createDirectories(ref.getParent());
    Path tmp = ref.resolveSibling(ref.getFileName() + ".hoist-tmp");
    Files.writeString(tmp, commit, StandardCharsets.UTF_8);
    Files.move(tmp, ref, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
  }

  /** The commit a revision points at in the cache, or null. */
  String commitFor(String repo, String revision) {
    if (COMMIT.matcher(revision).matches()) {
      return revision;
    }
    Path ref = repoDir(repo).resolve("refs").resolve(revision);
    try {
      String commit = Files.readString(ref, StandardCharsets.UTF_8).trim();
      return COMMIT.matcher(commit).matches() ? commit : null;
    } catch (IOException e) {
      return null;
    }
  }

  /** True if the revision's snapshot exists and every file in it leads to a complete blob. */
  boolean isDownloaded(String repo, String revision) {
    String commit = commitFor(repo, revision);
    if (commit == null) {
      return false;
    }
    Path snapshot = snapshotDir(repo, commit);
    if (!Files.isDirectory(snapshot)) {
      return false;
    }
    try (Stream<Path> files = Files.walk(snapshot)) {
      long[] counts = new long[2]; // {entries, broken}
      files.filter(p -> !Files.isDirectory(p)).forEach(p -> {
        counts[0]++;
        if (!Files.exists(p) || Files.isSymbolicLink(p) && !Files.isRegularFile(p)) {
          counts[1]++;
        }
      });
      return counts[0] > 0 && counts[1] == 0;
    } catch (IOException e) {
      return false;
    }
  }

  static boolean exists(Path p) {
    return Files.exists(p, LinkOption.NOFOLLOW_LINKS);
  }
}
