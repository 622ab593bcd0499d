package dev.hoist.download;

import dev.hoist.contract.ErrorCode;
import dev.hoist.contract.HoistException;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;

/**
 * A blob being fetched, on disk, in one of two shapes:
 * <ul>
 *   <li><b>stream</b>: {@code <etag>.incomplete}, always a valid prefix of the blob, as huggingface_hub
 *       writes it too (so either tool resumes the other's partial file);</li>
 *   <li><b>ranged</b>: {@code <etag>.ranged}, written at many positions at once by several connections,
 *       plus {@code <etag>.ranged.parts}, a small JSON sidecar saying how much of each range holds
 *       data. The sidecar is replaced atomically and only ever lists bytes already written, so after
 *       a crash every range resumes where the sidecar says (bytes written after its last save are
 *       fetched again).</li>
 * </ul>
 * The ranges ({@link Segment}s) are read and changed on the event loop; everything else here blocks
 * and runs on a worker.
 */
final class PartialBlob {

  /** A byte range of the blob and how much of it, from its start, is on disk. */
  static final class Segment {
    final long start;
    final long end;
    long done;
    /** A connection is fetching it. */
    boolean busy;

    Segment(long start, long end, long done) {
      this.start = start;
      this.end = end;
      this.done = done;
    }

    long next() {
      return start + done;
    }

    boolean complete() {
      return start + done >= end;
    }
  }

  final RemoteFile file;
  final boolean ranged;
  final Path data;
  final Path parts;
  final List<Segment> segments;
  final FileChannel channel;
  final PrefixHasher hasher;

  private PartialBlob(RemoteFile file, boolean ranged, Path data, Path parts, List<Segment> segments) throws IOException {
    this.file = file;
    this.ranged = ranged;
    this.data = data;
    this.parts = parts;
    this.segments = segments;
    this.channel = FileChannel.open(data, StandardOpenOption.CREATE, StandardOpenOption.READ, StandardOpenOption.WRITE);
    try {
      this.hasher = new PrefixHasher(file, channel);
      for (Segment s : segments) {
        hasher.alreadyWritten(s.start, s.next()); // re-hashes what an earlier run left, reading it once
      }
    } catch (IOException | RuntimeException e) {
      channel.close();
      throw e;
    }
  }

  /**
   * Opens what an earlier run left (a ranged state wins over a stream prefix), or starts afresh.
   * {@code split} asks for the ranged shape, in ranges of {@code chunk} bytes, when starting or
   * resuming a stream prefix; a ranged state found on disk stays ranged either way.
   */
  static PartialBlob open(HubCache cache, String repo, RemoteFile f, boolean split, long chunk) throws IOException {
    Path incomplete = cache.incomplete(repo, f.etag());
    Path ranged = cache.ranged(repo, f.etag());
    Path parts = cache.rangedParts(repo, f.etag());
    Files.createDirectories(incomplete.getParent());
    List<Segment> segments = readParts(parts, ranged, f);
    if (segments != null) {
      Files.deleteIfExists(incomplete);
      return new PartialBlob(f, true, ranged, parts, segments);
    }
    Files.deleteIfExists(parts);
    Files.deleteIfExists(ranged);
    long have = Files.isRegularFile(incomplete) ? Files.size(incomplete) : 0;
    if (have > f.size) {
      Files.delete(incomplete);
      have = 0;
    }
    if (!split) {
      List<Segment> one = new ArrayList<>();
      one.add(new Segment(0, f.size, have));
      return new PartialBlob(f, false, incomplete, null, one);
    }
    List<Segment> plan = new ArrayList<>();
    if (have > 0) {
      plan.add(new Segment(0, have, have));
    }
    for (long start = have; start < f.size; start += chunk) {
      plan.add(new Segment(start, Math.min(f.size, start + chunk), 0));
    }
    // The sidecar first, then the data under its ranged name: a crash in between leaves a sidecar
    // without data, which the next open discards, and the prefix still under its stream name.
    writeAtomically(parts, toJson(f, plan));
    if (have > 0) {
      Files.move(incomplete, ranged, StandardCopyOption.ATOMIC_MOVE);
    }
    return new PartialBlob(f, true, ranged, parts, plan);
  }

  /** Throws away any partial state and opens an empty stream prefix (the hub ignored a Range request). */
  static PartialBlob restartAsStream(HubCache cache, String repo, RemoteFile f) throws IOException {
    discardAll(cache, repo, f);
    return open(cache, repo, f, false, 0);
  }

  /** Bytes an earlier run left on disk that a resume keeps. */
  static long bytesOnDisk(HubCache cache, String repo, RemoteFile f) throws IOException {
    List<Segment> segments = readParts(cache.rangedParts(repo, f.etag()), cache.ranged(repo, f.etag()), f);
    if (segments != null) {
      return segments.stream().mapToLong(s -> s.done).sum();
    }
    Path incomplete = cache.incomplete(repo, f.etag());
    long have = Files.isRegularFile(incomplete) ? Files.size(incomplete) : 0;
    return have > f.size ? 0 : have;
  }

  static void discardAll(HubCache cache, String repo, RemoteFile f) throws IOException {
    Files.deleteIfExists(cache.rangedParts(repo, f.etag()));
    Files.deleteIfExists(cache.ranged(repo, f.etag()));
    Files.deleteIfExists(cache.incomplete(repo, f.etag()));
  }

  /** Event loop: bytes on disk now. */
  long done() {
    long sum = 0;
    for (Segment s : segments) {
      sum += s.done;
    }
    return sum;
  }

  boolean complete() {
    return segments.stream().allMatch(Segment::complete);
  }

  /** Event loop: the sidecar's content for what is on disk now. */
  String partsSnapshot() {
    return toJson(file, segments);
  }

  /** Worker: replaces the sidecar atomically. */
  void saveParts(String json) throws IOException {
    if (ranged && Files.exists(data)) {
      writeAtomically(parts, json);
    }
  }

  /** Worker: hashes whatever is left and checks size and hash; the data file is then ready to be renamed. */
  void verify() throws IOException {
    String actual = hasher.finish();
    long size = channel.size();
    channel.force(false);
    channel.close();
    if (size != file.size) {
      discard();
      throw new HoistException(ErrorCode.HUB_ERROR, file.path + " has " + size + " bytes on disk but the hub listed "
          + file.size + "; the file was discarded");
    }
    String expected = file.isLfs() ? file.lfsSha256 : file.oid;
    if (!actual.equals(expected)) {
      discard();
      throw new ChecksumMismatch("checksum mismatch for " + file.path + ": expected " + (file.isLfs() ? "sha256 " : "git sha1 ")
          + expected + ", got " + actual);
    }
  }

  /** Worker. */
  void close() throws IOException {
    if (channel.isOpen()) {
      channel.close();
    }
  }

  /** Worker: deletes this state's files. */
  void discard() throws IOException {
    close();
    Files.deleteIfExists(data);
    if (parts != null) {
      Files.deleteIfExists(parts);
    }
  }

  /** The sidecar's ranges, clamped to the data actually on disk; null if there is no usable sidecar. */
  private static List<Segment> readParts(Path parts, Path data, RemoteFile f) {
    if (!Files.isRegularFile(parts) || !Files.isRegularFile(data)) {
      return null;
    }
    try {
      JsonObject json = new JsonObject(Files.readString(parts, StandardCharsets.UTF_8));
      if (json.getInteger("version", 0) != 1 || json.getLong("size", -1L) != f.size || !f.etag().equals(json.getString("etag"))) {
        return null;
      }
      long onDisk = Files.size(data);
      List<Segment> segments = new ArrayList<>();
      long expectStart = 0;
      JsonArray ranges = json.getJsonArray("ranges");
      for (int i = 0; i < ranges.size(); i++) {
        JsonArray r = ranges.getJsonArray(i);
        long start = r.getLong(0);
        long end = r.getLong(1);
        long done = r.getLong(2);
        if (start != expectStart || end <= start || end > f.size || done < 0 || done > end - start) {
          return null;
        }
        segments.add(new Segment(start, end, Math.min(done, Math.max(0, onDisk - start))));
        expectStart = end;
      }
      return expectStart == f.size && !segments.isEmpty() ? segments : null;
    } catch (IOException | RuntimeException e) {
      return null; // unreadable: start over rather than trust it
    }
  }

  private static String toJson(RemoteFile f, List<Segment> segments) {
    JsonArray ranges = new JsonArray();
    for (Segment s : segments) {
      ranges.add(new JsonArray().add(s.start).add(s.end).add(s.done));
    }
    return new JsonObject().put("version", 1).put("etag", f.etag()).put("size", f.size).put("ranges", ranges).encode();
  }

  private static void writeAtomically(Path target, String content) throws IOException {
    Path tmp = target.resolveSibling(target.getFileName() + ".tmp");
    Files.writeString(tmp, content, StandardCharsets.UTF_8);
    Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
  }

  /** The bytes arrived but are not the blob the hub listed: discarded, fetched once more. */
  static final class ChecksumMismatch extends HoistException {
    ChecksumMismatch(String message) {
      super(ErrorCode.CHECKSUM_MISMATCH, message, true, null);
    }
  }
}
