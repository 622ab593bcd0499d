package dev.hoist.download;

import static dev.hoist.contract.EventBusContract.*;

import dev.hoist.contract.ErrorCode;
import dev.hoist.contract.HoistException;
import dev.hoist.contract.OperationStatus;
import dev.hoist.contract.StageReporter;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpClient;
import io.vertx.core.http.HttpClientResponse;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.RequestOptions;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.net.URI;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.Supplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Downloads one model for one operation: pins the revision's commit, lists and selects the files,
 * then fetches each into the cache — resuming from its {@code .incomplete} file, hashing while it
 * streams, retrying transient failures — and links it into the snapshot. Runs on the download
 * verticle's event loop; file work happens on workers.
 */
final class DownloadJob {

  private static final Pattern CONTENT_RANGE = Pattern.compile("bytes (\\d+)-(\\d+)/(\\d+|\\*)");
  private static final int MAX_REDIRECTS = 5;
  /** Disk space kept free beyond what a download needs. */
  private static final long DISK_MARGIN = 64L << 20;

  private final DownloadVerticle owner;
  private final Vertx vertx;
  private final HubCache cache;
  private final StageReporter reporter;
  private final String repo;
  private final String revision;
  private final String hub;

  private String commit;
  private List<RemoteFile> files;
  private long bytesTotal;
  private long bytesDone;
  private int filesDone;
  private String currentFile;
  private final Map<String, Long> fileDone = new LinkedHashMap<>();
  private final Set<String> changedFiles = new HashSet<>();
  private final Set<String> hashRetried = new HashSet<>();

  DownloadJob(DownloadVerticle owner, StageReporter reporter, String repo, String revision, String hub) {
    this.owner = owner;
    this.vertx = owner.vertx();
    this.cache = owner.cache();
    this.reporter = reporter;
    this.repo = repo;
    this.revision = revision;
    this.hub = hub;
  }

  /** Runs to the end; the result is what the load stage needs. */
  Future<JsonObject> run() {
    reporter.stage(OperationStatus.INITIALIZING.wireName());
    reporter.progress(new JsonObject()
        .put(MESSAGE, "Resolving " + repo + "@" + revision)
        .put(LOG, "Resolving " + repo + "@" + revision + " on hub '" + hub + "' (" + owner.hubs().endpoint(hub) + ")"));
    return retrying("resolve " + repo + "@" + revision, () -> owner.hubs().resolveCommit(hub, repo, revision))
        .compose(sha -> {
          commit = sha;
          return retrying("list the files of " + repo, () -> owner.hubs().listFiles(hub, repo, sha));
        })
        .compose(all -> {
          files = FileSelection.select(all, repo);
          return vertx.executeBlocking(this::plan);
        })
        .compose(needed -> {
          reportManifest(needed);
          reporter.stage(OperationStatus.DOWNLOADING.wireName());
          Future<Void> chain = Future.succeededFuture();
          for (RemoteFile f : files) {
            chain = chain.compose(v -> fetch(f));
          }
          return chain;
        })
        .compose(v -> vertx.executeBlocking(() -> {
          cache.writeRef(repo, revision, commit);
          return cache.snapshotDir(repo, commit);
        }))
        .map(snapshot -> {
          JsonArray out = new JsonArray();
          for (RemoteFile f : files) {
            out.add(new JsonObject().put(PATH, f.path).put(SIZE, f.size)
                .put(LOCAL_PATH, snapshot.resolve(f.path).toString()));
          }
          return new JsonObject().put(COMMIT, commit).put(SNAPSHOT_DIR, snapshot.toString()).put(FILES, out);
        });
  }

  JsonObject finalFields() {
    return progressFields().put(MESSAGE, "Downloaded " + files.size() + " files")
        .put(LOG, "Downloaded " + files.size() + " files (" + human(bytesTotal) + ") into " + cache.snapshotDir(repo, commit));
  }

  /** On a worker: what is already on disk, and whether the volume has room for the rest. */
  private long plan() throws IOException {
    long needed = 0;
    for (RemoteFile f : files) {
      long have;
      if (cache.hasBlob(repo, f)) {
        have = f.size;
      } else {
        Path part = cache.incomplete(repo, f.etag());
        have = Files.isRegularFile(part) ? Math.min(Files.size(part), f.size) : 0;
      }
      fileDone.put(f.path, have);
      bytesTotal += f.size;
      needed += f.size - have;
    }
    Path root = cache.root;
    Files.createDirectories(root);
    long usable = Files.getFileStore(root).getUsableSpace();
    if (needed + DISK_MARGIN > usable) {
      throw new HoistException(ErrorCode.INSUFFICIENT_DISK, "insufficient disk space: need " + human(needed + DISK_MARGIN)
          + " (with a margin of " + human(DISK_MARGIN) + "), have " + human(usable) + " free at " + root);
    }
    return needed;
  }

  private void reportManifest(long needed) {
    JsonArray manifest = new JsonArray();
    for (RemoteFile f : files) {
      manifest.add(new JsonObject().put(PATH, f.path).put(SIZE, f.size).put(BYTES_DONE, fileDone.get(f.path))
          .put(SHA256, f.lfsSha256));
    }
    bytesDone = fileDone.values().stream().mapToLong(Long::longValue).sum();
    String line = "Revision " + revision + " is commit " + commit + ": " + files.size() + " files, " + human(bytesTotal)
        + (needed < bytesTotal ? " (" + human(bytesTotal - needed) + " already on disk)" : "");
    reporter.progress(new JsonObject()
        .put(COMMIT, commit)
        .put(FILES, manifest)
        .put(FILES_TOTAL, files.size())
        .put(FILES_DONE, 0)
        .put(PROGRESS, 1.0)
        .put(MESSAGE, "Manifest: " + files.size() + " files, " + human(bytesTotal))
        .put(LOG, line));
  }

  private JsonObject progressFields() {
    JsonObject changed = new JsonObject();
    for (String path : changedFiles) {
      changed.put(path, fileDone.get(path));
    }
    changedFiles.clear();
    return new JsonObject()
        .put(BYTES_DONE, bytesDone)
        .put(BYTES_TOTAL, bytesTotal)
        .put(FILES_DONE, filesDone)
        .put(FILES_TOTAL, files.size())
        .put(CURRENT_FILE, currentFile)
        .put(FILE_PROGRESS, changed);
  }

  private void moved(String path, long bytes) {
    fileDone.merge(path, bytes, Long::sum);
    bytesDone += bytes;
    changedFiles.add(path);
    reporter.maybeProgress(this::progressFields);
  }

  // ------------------------------------------------------------------ one file

  private Future<Void> fetch(RemoteFile f) {
    currentFile = f.path;
    return owner.exclusive(cache.blob(repo, f.etag()), () -> vertx.executeBlocking(() -> cache.hasBlob(repo, f))
        .compose(present -> {
          if (present) {
            return vertx.executeBlocking(() -> cache.link(repo, commit, f)).map(link -> {
              fileDone.put(f.path, f.size);
              changedFiles.add(f.path);
              recount();
              filesDone++;
              reporter.progress(progressFields().put(MESSAGE, f.path + " is already in the cache")
                  .put(LOG, f.path + " (" + human(f.size) + ") is already in the cache, verified when it was stored; not fetching it again"));
              return null;
            });
          }
          reporter.progress(progressFields().put(MESSAGE, "Downloading " + f.path)
              .put(LOG, "Downloading " + f.path + " (" + human(f.size) + ")"));
          return retrying("download " + f.path, () -> fetchOnce(f))
              .recover(err -> {
                if (err instanceof ChecksumMismatch && hashRetried.add(f.path)) {
                  reporter.warn(err.getMessage() + "; the file was discarded, fetching it once more");
                  return retrying("download " + f.path, () -> fetchOnce(f));
                }
                return Future.failedFuture(err);
              })
              .map(v -> {
                filesDone++;
                reporter.progress(progressFields().put(LOG, f.path + " verified (" + (f.isLfs() ? "sha256 " : "git sha1 ")
                    + f.etag().substring(0, 12) + "…, " + human(f.size) + ")"));
                return null;
              });
        }).mapEmpty());
  }

  private void recount() {
    bytesDone = fileDone.values().stream().mapToLong(Long::longValue).sum();
  }

  /** One HTTP transfer of a file, from what its {@code .incomplete} already holds. */
  private Future<Void> fetchOnce(RemoteFile f) {
    Path part = cache.incomplete(repo, f.etag());
    return vertx.executeBlocking(() -> Part.open(part, f)).compose(p -> {
      fileDone.put(f.path, p.offset);
      changedFiles.add(f.path);
      recount();
      Future<Void> body = p.offset == f.size ? Future.succeededFuture()
          : request(fileUrl(f), p.offset, 0).compose(resp -> receive(f, p, resp));
      return body.transform(ar -> vertx.executeBlocking(() -> {
        if (ar.failed()) {
          p.close();
          throw ar.cause() instanceof Exception ? (Exception) ar.cause() : new IOException(ar.cause());
        }
        finish(f, p, part);
        return null;
      }));
    });
  }

  private String fileUrl(RemoteFile f) {
    StringBuilder path = new StringBuilder();
    for (String segment : f.path.split("/")) {
      path.append('/').append(HubClient.encode(segment));
    }
    return owner.hubs().endpoint(hub) + "/" + repo + "/resolve/" + commit + path;
  }

  /** GET with redirects followed by hand, so the token never travels to another host. */
  private Future<HttpClientResponse> request(String url, long offset, int redirects) {
    RequestOptions options = new RequestOptions().setMethod(HttpMethod.GET).setAbsoluteURI(url).setFollowRedirects(false);
    if (offset > 0) {
      options.putHeader("Range", "bytes=" + offset + "-");
    }
    String auth = owner.hubs().authorization(hub);
    if (auth != null && sameOrigin(url, owner.hubs().endpoint(hub))) {
      options.putHeader("Authorization", auth);
    }
    HttpClient http = owner.http();
    return http.request(options).compose(req -> req.send()).compose(resp -> {
      int status = resp.statusCode();
      if (status >= 300 && status < 400 && resp.getHeader("Location") != null) {
        resp.body(); // drain, so the connection can be reused
        if (redirects >= MAX_REDIRECTS) {
          return Future.failedFuture(new HoistException(ErrorCode.HUB_ERROR, "too many redirects fetching " + url));
        }
        String next = URI.create(url).resolve(resp.getHeader("Location")).toString();
        if (!next.startsWith("http://") && !next.startsWith("https://")) {
          return Future.failedFuture(new HoistException(ErrorCode.HUB_ERROR, "hub redirected to a non-HTTP address; refusing to follow it"));
        }
        return request(next, offset, redirects + 1);
      }
      return Future.succeededFuture(resp);
    });
  }

  private static boolean sameOrigin(String a, String b) {
    URI x = URI.create(a);
    URI y = URI.create(b);
    return x.getScheme().equalsIgnoreCase(y.getScheme()) && x.getHost().equalsIgnoreCase(y.getHost()) && x.getPort() == y.getPort();
  }

  /** Streams the body into the part file with back-pressure from the disk and the bandwidth limit. */
  private Future<Void> receive(RemoteFile f, Part p, HttpClientResponse resp) {
    resp.pause(); // until stream() has its handlers in place
    int status = resp.statusCode();
    Future<Void> ready = Future.succeededFuture();
    if (status == 200 && p.offset > 0) {
      reporter.warn("The hub ignored the resume request for " + f.path + " (HTTP 200 instead of 206); starting the file over");
      fileDone.put(f.path, 0L);
      changedFiles.add(f.path);
      recount();
      ready = vertx.executeBlocking(() -> {
        p.restart(f);
        return null;
      });
    } else if (status == 206) {
      Matcher m = CONTENT_RANGE.matcher(String.valueOf(resp.getHeader("Content-Range")));
      if (!m.matches() || Long.parseLong(m.group(1)) != p.offset
          || !m.group(3).equals("*") && Long.parseLong(m.group(3)) != f.size) {
        resp.body();
        return Future.failedFuture(new HoistException(ErrorCode.HUB_ERROR, "the hub answered a resume request for " + f.path
            + " from byte " + p.offset + " with the wrong range (" + resp.getHeader("Content-Range") + ")", false, null));
      }
      reporter.info("Resuming " + f.path + " from " + human(p.offset) + " of " + human(f.size));
    } else if (status == 416 && p.offset > 0) {
      resp.body();
      return vertx.executeBlocking(() -> {
        p.restart(f);
        return null;
      }).compose(v -> Future.failedFuture(new TransientFailure("the hub refused the resume range for " + f.path)));
    } else {
      try {
        HubClient.checkStatus(status, resp.getHeader("X-Error-Code"), resp.getHeader("Retry-After"), repo, commit, f.path,
            owner.hubs().authorization(hub) != null);
      } catch (HoistException e) {
        resp.body();
        return Future.failedFuture(e);
      }
    }
    return ready.compose(v -> stream(f, p, resp));
  }

  private Future<Void> stream(RemoteFile f, Part p, HttpClientResponse resp) {
    Promise<Void> received = Promise.promise();
    BlobSink sink = new BlobSink(vertx, p.channel, p.digest, n -> {
      p.offset += n;
      moved(f.path, n);
    });
    Flow flow = new Flow(resp);
    Throttle throttle = owner.throttle();
    resp.handler(buf -> {
      sink.write(buf);
      if (sink.isFull() && !flow.disk) {
        flow.disk = true;
        flow.update();
        sink.drainHandler(() -> {
          flow.disk = false;
          flow.update();
        });
      }
      long waitMs = throttle.take(buf.length());
      if (waitMs > 0 && !flow.limit) {
        flow.limit = true;
        flow.update();
        vertx.setTimer(waitMs, t -> {
          flow.limit = false;
          flow.update();
        });
      }
    });
    resp.exceptionHandler(received::tryFail);
    resp.endHandler(v -> received.tryComplete());
    resp.resume();
    return received.future().transform(ar -> sink.flush().transform(flushed -> {
      if (flushed.failed()) {
        return Future.failedFuture(localIo(flushed.cause()));
      }
      if (ar.failed()) {
        return Future.failedFuture(ar.cause());
      }
      if (p.offset < f.size) {
        return Future.failedFuture(new TransientFailure("the connection ended after " + human(p.offset) + " of " + f.path
            + " (" + human(f.size) + ")"));
      }
      return Future.succeededFuture();
    }));
  }

  /** Pauses the response while either the disk or the bandwidth limit asks for it. */
  private static final class Flow {
    final HttpClientResponse resp;
    boolean disk;
    boolean limit;

    Flow(HttpClientResponse resp) {
      this.resp = resp;
    }

    void update() {
      if (disk || limit) {
        resp.pause();
      } else {
        resp.resume();
      }
    }
  }

  /** On a worker: check size and hash, then move into the cache and link the snapshot. */
  private void finish(RemoteFile f, Part p, Path part) throws IOException {
    p.channel.force(false);
    p.close();
    long size = Files.size(part);
    if (size != f.size) {
      Files.deleteIfExists(part);
      throw new HoistException(ErrorCode.HUB_ERROR, f.path + " has " + size + " bytes but the hub listed " + f.size
          + "; the file was discarded", true, null);
    }
    String actual = HexFormat.of().formatHex(p.digest.digest());
    String expected = f.isLfs() ? f.lfsSha256 : f.oid;
    if (!actual.equals(expected)) {
      Files.deleteIfExists(part);
      throw new ChecksumMismatch("checksum mismatch for " + f.path + ": expected " + (f.isLfs() ? "sha256 " : "git sha1 ")
          + expected + ", got " + actual);
    }
    Files.move(part, cache.blob(repo, f.etag()), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    cache.link(repo, commit, f);
  }

  // ------------------------------------------------------------------ retries

  private <T> Future<T> retrying(String what, Supplier<Future<T>> action) {
    return attempt(what, action, 0);
  }

  private <T> Future<T> attempt(String what, Supplier<Future<T>> action, int failures) {
    Future<T> tried;
    try {
      tried = action.get();
    } catch (RuntimeException e) {
      tried = Future.failedFuture(e);
    }
    return tried.recover(err -> {
      if (!isTransient(err)) {
        return Future.failedFuture(err);
      }
      int max = owner.settings().downloadRetries();
      if (failures >= max) {
        return Future.failedFuture(new HoistException(ErrorCode.HUB_UNREACHABLE, "could not " + what + " after "
            + (failures + 1) + " attempts: " + HubClient.describe(err), true, err));
      }
      long delay = backoff(failures, err);
      reporter.warn("Retrying " + what + " in " + String.format("%.1f s", delay / 1000.0) + " (attempt " + (failures + 2)
          + " of " + (max + 1) + "): " + HubClient.describe(err));
      Promise<T> next = Promise.promise();
      vertx.setTimer(delay, t -> attempt(what, action, failures + 1).onComplete(next));
      return next.future();
    });
  }

  private long backoff(int failures, Throwable err) {
    if (err instanceof HubClient.RetryableHubStatus && ((HubClient.RetryableHubStatus) err).retryAfter != null) {
      try {
        return Math.min(60_000, Long.parseLong(((HubClient.RetryableHubStatus) err).retryAfter.trim()) * 1000);
      } catch (NumberFormatException ignored) {
        // an HTTP date: fall back to our own backoff
      }
    }
    long base = owner.settings().retryBaseMs();
    long exp = Math.min(30_000, base << Math.min(failures, 10));
    return exp / 2 + ThreadLocalRandom.current().nextLong(exp / 2 + 1);
  }

  private static boolean isTransient(Throwable err) {
    if (err instanceof ChecksumMismatch) {
      return false;
    }
    if (err instanceof HoistException) {
      return ((HoistException) err).retryable() && ((HoistException) err).code() != ErrorCode.INTERNAL;
    }
    return true; // connection reset, refused, closed, timed out: the network's, not ours
  }

  private static HoistException localIo(Throwable err) {
    String msg = HubClient.describe(err);
    if (msg.contains("No space left")) {
      return new HoistException(ErrorCode.INSUFFICIENT_DISK, "insufficient disk space while writing to the cache: " + msg);
    }
    return new HoistException(ErrorCode.INTERNAL, "cannot write to the model cache: " + msg, false, err);
  }

  static String human(long bytes) {
    if (bytes < 1024) {
      return bytes + " B";
    }
    String[] units = {"KiB", "MiB", "GiB", "TiB"};
    double v = bytes;
    int u = -1;
    while (v >= 1024 && u < units.length - 1) {
      v /= 1024;
      u++;
    }
    return String.format("%.1f %s", v, units[u]);
  }

  /** Worth another attempt, resuming from the part file. */
  static final class TransientFailure extends HoistException {
    TransientFailure(String message) {
      super(ErrorCode.HUB_UNREACHABLE, message, true, null);
    }
  }

  static final class ChecksumMismatch extends HoistException {
    ChecksumMismatch(String message) {
      super(ErrorCode.CHECKSUM_MISMATCH, message, true, null);
    }
  }

  /** A blob's {@code .incomplete} file, open for appending, with the hash of what it holds. */
  static final class Part {
    final Path path;
    final FileChannel channel;
    final MessageDigest digest;
    long offset;

    private Part(Path path, FileChannel channel, MessageDigest digest, long offset) {
      this.path = path;
      this.channel = channel;
      this.digest = digest;
      this.offset = offset;
    }

    /** Opens (blocking) and re-hashes what is already there, so resuming costs no second full read later. */
    static Part open(Path path, RemoteFile f) throws IOException {
      Files.createDirectories(path.getParent());
      FileChannel channel = FileChannel.open(path, StandardOpenOption.CREATE, StandardOpenOption.WRITE, StandardOpenOption.READ);
      try {
        long size = channel.size();
        if (size > f.size) {
          channel.truncate(0);
          size = 0;
        }
        MessageDigest digest = newDigest(f);
        ByteBuffer buffer = ByteBuffer.allocate(1 << 20);
        long pos = 0;
        while (pos < size) {
          buffer.clear();
          int n = channel.read(buffer, pos);
          if (n < 0) {
            break;
          }
          buffer.flip();
          digest.update(buffer);
          pos += n;
        }
        channel.position(size);
        return new Part(path, channel, digest, size);
      } catch (IOException | RuntimeException e) {
        channel.close();
        throw e;
      }
    }

    void restart(RemoteFile f) throws IOException {
      channel.truncate(0);
      channel.position(0);
      digest.reset();
      primeGitHeader(digest, f);
      offset = 0;
    }

    void close() throws IOException {
      if (channel.isOpen()) {
        channel.close();
      }
    }

    private static MessageDigest newDigest(RemoteFile f) {
      try {
        MessageDigest digest = MessageDigest.getInstance(f.isLfs() ? "SHA-256" : "SHA-1");
        primeGitHeader(digest, f);
        return digest;
      } catch (NoSuchAlgorithmException e) {
        throw new IllegalStateException(e);
      }
    }

    /** A git blob id is the sha1 of "blob <size>\0" followed by the content. */
    private static void primeGitHeader(MessageDigest digest, RemoteFile f) {
      if (!f.isLfs()) {
        digest.update(("blob " + f.size + "\0").getBytes(StandardCharsets.US_ASCII));
      }
    }
  }
}
