package dev.hoist.download;

import static dev.hoist.contract.EventBusContract.*;

import dev.hoist.contract.ErrorCode;
import dev.hoist.contract.HoistException;
import dev.hoist.contract.OperationStatus;
import dev.hoist.contract.StageReporter;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Supplier;

/**
 * Downloads one model for one operation: pins the revision's commit, lists the files and selects
 * them (with the request's options), reports the manifest before any byte moves, then fetches up to
 * HOIST_DOWNLOAD_PARALLEL_FILES files at once — each through the {@link BlobTransfer} of its blob,
 * shared with any other operation needing it — and links each into the snapshot. Progress is one
 * figure over all files; a stalled file shows as {@code stalled}. Runs on the download verticle's
 * event loop; file work happens on workers.
 */
final class DownloadJob {

  /** Disk space kept free beyond what a download needs. */
  private static final long DISK_MARGIN = 64L << 20;

  private final DownloadVerticle owner;
  private final Vertx vertx;
  private final HubCache cache;
  private final StageReporter reporter;
  private final Redactor redactor;
  private final String repo;
  private final String revision;
  private final String hub;
  private final DownloadOptions options;
  private final Throttle throttle;

  private String commit;
  private List<RemoteFile> files = List.of();
  private long bytesTotal;
  private long bytesDone;
  private int filesDone;
  private final Map<String, Long> fileDone = new LinkedHashMap<>();
  private final Set<String> changedFiles = new HashSet<>();
  private final Set<String> inFlight = new LinkedHashSet<>();
  private final Map<String, Long> stalled = new LinkedHashMap<>();
  private final Map<BlobTransfer, List<BlobTransfer.Subscriber>> following = new HashMap<>();
  private String lastFile;
  /** Set once the job is over (failed or cancelled): nothing more is reported. */
  private HoistException stopped;
  /** Stopped from outside (cancel, superseded, shutdown): not even a failure is reported. */
  private boolean cancelled;
  private Promise<Void> allFiles;

  DownloadJob(DownloadVerticle owner, StageReporter reporter, String repo, String revision, String hub, DownloadOptions options) {
    this.owner = owner;
    this.vertx = owner.vertx();
    this.cache = owner.cache();
    this.reporter = reporter;
    this.redactor = owner.redactor();
    this.repo = repo;
    this.revision = revision;
    this.hub = hub;
    this.options = options;
    this.throttle = new Throttle(options.maxBytesPerSecond);
  }

  /** Runs to the end; the result is what the load stage needs. */
  Future<JsonObject> run() {
    reporter.stage(OperationStatus.INITIALIZING.wireName());
    report(new JsonObject()
        .put(MESSAGE, "Resolving " + repo + "@" + revision)
        .put(LOG, "Resolving " + repo + "@" + revision + " on hub '" + hub + "' (" + owner.hubs().endpoint(hub) + ")"));
    return retrying("resolve " + repo + "@" + revision, () -> owner.hubs().resolveCommit(hub, repo, revision))
        .compose(sha -> {
          commit = sha;
          return retrying("list the files of " + repo, () -> owner.hubs().listFiles(hub, repo, sha));
        })
        .compose(all -> {
          files = FileSelection.select(all, repo, options);
          return vertx.executeBlocking(this::plan);
        })
        .compose(needed -> {
          reportManifest(needed);
          reporter.stage(OperationStatus.DOWNLOADING.wireName());
          return fetchAll();
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
        })
        // Our own disk failing (full, read-only) while planning, linking or writing the ref: said as such.
        .recover(err -> Future.failedFuture(err instanceof java.io.IOException || err instanceof java.io.UncheckedIOException
            ? localIo(err) : err))
        .andThen(ar -> {
          if (ar.failed()) {
            stop(ar.cause() instanceof HoistException ? (HoistException) ar.cause() : localIo(ar.cause()));
          }
        });
  }

  JsonObject finalFields() {
    return scrub(progressFields().put(MESSAGE, "Downloaded " + files.size() + " files")
        .put(LOG, "Downloaded " + files.size() + " files (" + human(bytesTotal) + ") into " + cache.snapshotDir(repo, commit)));
  }

  /** Stops for good, without another report (the registry has moved on): leaves the transfers it followed. */
  void cancel(HoistException why) {
    cancelled = true;
    stop(why);
    if (allFiles != null) {
      allFiles.tryFail(why);
    }
  }

  boolean isCancelled() {
    return cancelled;
  }

  private void stop(HoistException why) {
    if (stopped != null) {
      return;
    }
    stopped = why;
    Map<BlobTransfer, List<BlobTransfer.Subscriber>> followed = new HashMap<>(following);
    following.clear();
    followed.forEach((transfer, subs) -> new ArrayList<>(subs).forEach(transfer::unsubscribe));
  }

  /** On a worker: what is already on disk, and whether the volume has room for the rest. */
  private long plan() throws java.io.IOException {
    long needed = 0;
    for (RemoteFile f : files) {
      long have = cache.hasBlob(repo, f) ? f.size : Math.min(f.size, PartialBlob.bytesOnDisk(cache, repo, f));
      fileDone.put(f.path, have);
      bytesTotal += f.size;
      needed += f.size - have;
    }
    if (needed == 0) {
      return 0; // everything is in the cache already: nothing to write, so no room needed
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
    recount();
    String line = "Revision " + revision + " is commit " + commit + ": " + files.size() + " files, " + human(bytesTotal)
        + (needed < bytesTotal ? " (" + human(bytesTotal - needed) + " already on disk)" : "");
    report(new JsonObject()
        .put(COMMIT, commit)
        .put(FILES, manifest)
        .put(FILES_TOTAL, files.size())
        .put(FILES_DONE, 0)
        .put(BYTES_DONE, bytesDone)
        .put(BYTES_TOTAL, bytesTotal)
        .put(PROGRESS, 1.0)
        .put(MESSAGE, "Manifest: " + files.size() + " files, " + human(bytesTotal))
        .put(LOG, line));
  }

  // ------------------------------------------------------------------ files

  /** Every file, up to HOIST_DOWNLOAD_PARALLEL_FILES at once; the first failure ends the job. */
  private Future<Void> fetchAll() {
    allFiles = Promise.promise();
    Deque<RemoteFile> queue = new ArrayDeque<>(files);
    int parallel = owner.settings().downloadParallelFiles();
    int[] running = {0};
    Runnable[] launch = new Runnable[1];
    launch[0] = () -> {
      while (stopped == null && running[0] < parallel && !queue.isEmpty()) {
        RemoteFile f = queue.poll();
        running[0]++;
        fetch(f).onComplete(ar -> {
          running[0]--;
          if (ar.failed()) {
            allFiles.tryFail(ar.cause());
          } else if (queue.isEmpty() && running[0] == 0) {
            allFiles.tryComplete();
          } else {
            launch[0].run();
          }
        });
      }
    };
    if (queue.isEmpty()) {
      allFiles.tryComplete();
    } else {
      launch[0].run();
    }
    return allFiles.future();
  }

  private Future<Void> fetch(RemoteFile f) {
    return vertx.executeBlocking(() -> cache.hasBlob(repo, f)).compose(present -> {
      if (present) {
        return vertx.executeBlocking(() -> cache.link(repo, commit, f)).map(link -> {
          fileMoved(f.path, f.size);
          filesDone++;
          lastFile = f.path;
          report(progressFields().put(MESSAGE, f.path + " is already in the cache")
              .put(LOG, f.path + " (" + human(f.size) + ") is already in the cache, verified when it was stored; not fetching it again"));
          return null;
        });
      }
      return follow(f).compose(v -> vertx.executeBlocking(() -> cache.link(repo, commit, f))).map(link -> {
        inFlight.remove(f.path);
        stalled.remove(f.path);
        fileMoved(f.path, f.size);
        filesDone++;
        lastFile = f.path;
        report(progressFields().put(LOG, f.path + " verified (" + (f.isLfs() ? "sha256 " : "git sha1 ")
            + f.etag().substring(0, 12) + "…, " + human(f.size) + ")"));
        return null;
      });
    });
  }

  /** Follows the blob's transfer (shared with other operations); completes when the blob is in the cache. */
  private Future<Void> follow(RemoteFile f) {
    if (stopped != null) {
      return Future.failedFuture(stopped);
    }
    inFlight.add(f.path);
    BlobTransfer.Subscriber me = new BlobTransfer.Subscriber(new BlobTransfer.Listener() {
      @Override
      public void bytes(long done) {
        fileMoved(f.path, done);
      }

      @Override
      public void stalled(long seconds) {
        fileStalled(f.path, seconds);
      }

      @Override
      public void log(String level, String line) {
        if (stopped == null) {
          reporter.log(level, redactor.scrub(line));
        }
      }
    }, throttle);
    report(progressFields().put(MESSAGE, downloadingMessage(f.path)).put(LOG, "Downloading " + f.path + " (" + human(f.size) + ")"));
    boolean[] shared = {false};
    BlobTransfer transfer = owner.transfers().follow(repo, hub, owner.files().url(hub, repo, commit, f), f, me, shared);
    boolean ours = following.containsKey(transfer);
    following.computeIfAbsent(transfer, t -> new ArrayList<>()).add(me);
    if (shared[0]) {
      reporter.info(f.path + (ours ? " has the same content as another file of this model; fetching it once"
          : " is already being downloaded for another operation; sharing that transfer (" + human(transfer.bytes()) + " so far)"));
    }
    return transfer.future().andThen(ar -> {
      List<BlobTransfer.Subscriber> subs = following.get(transfer);
      if (subs != null) {
        subs.remove(me);
        if (subs.isEmpty()) {
          following.remove(transfer);
        }
      }
    });
  }

  private void fileMoved(String path, long done) {
    Long before = fileDone.put(path, done);
    if (before == null || before != done) {
      changedFiles.add(path);
      recount();
      maybeReport(this::progressFields);
    }
  }

  /** A file stalled (seconds > 0) or flows again (0): reported at once, at least each second while it lasts. */
  private void fileStalled(String path, long seconds) {
    if (seconds > 0) {
      stalled.put(path, seconds);
    } else if (stalled.remove(path) == null) {
      return;
    }
    long worst = stalled.values().stream().mapToLong(Long::longValue).max().orElse(0);
    JsonObject fields = progressFields().put(STALLED, worst > 0).put(STALLED_SECONDS, worst);
    if (worst > 0) {
      String which = stalled.keySet().iterator().next();
      fields.put(MESSAGE, "Stalled: no data for " + which + " for " + worst + " s; replacing the connection");
    } else {
      fields.put(MESSAGE, downloadingMessage(null));
    }
    report(fields);
  }

  private void recount() {
    bytesDone = fileDone.values().stream().mapToLong(Long::longValue).sum();
  }

  private String currentFile() {
    if (!stalled.isEmpty()) {
      return stalled.keySet().iterator().next();
    }
    return inFlight.isEmpty() ? lastFile : inFlight.iterator().next();
  }

  private String downloadingMessage(String path) {
    String first = path != null ? path : currentFile();
    int others = inFlight.size() - (inFlight.contains(first) ? 1 : 0);
    return "Downloading " + first + (others > 0 ? " and " + others + " more" : "");
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
        .put(CURRENT_FILE, currentFile())
        .put(FILE_PROGRESS, changed);
  }

  // ------------------------------------------------------------------ reporting

  private void report(JsonObject fields) {
    if (stopped == null) {
      reporter.progress(scrub(fields));
    }
  }

  private void maybeReport(Supplier<JsonObject> fields) {
    if (stopped == null) {
      reporter.maybeProgress(() -> scrub(fields.get()));
    }
  }

  private JsonObject scrub(JsonObject fields) {
    for (String key : new String[] {MESSAGE, LOG}) {
      if (fields.getValue(key) instanceof String) {
        fields.put(key, redactor.scrub(fields.getString(key)));
      }
    }
    return fields;
  }

  private <T> Future<T> retrying(String what, Supplier<Future<T>> action) {
    return Retries.retrying(vertx, what, action, owner.settings().downloadRetries(), owner.settings().retryBaseMs(),
        line -> {
          if (stopped == null) {
            reporter.warn(redactor.scrub(line));
          }
        });
  }

  /** A failure of our own disk, told apart from the network's: not worth retrying. */
  static HoistException localIo(Throwable err) {
    if (err instanceof HoistException) {
      return (HoistException) err;
    }
    String msg = HubClient.describe(err);
    if (msg.contains("No space left")) {
      return new HoistException(ErrorCode.INSUFFICIENT_DISK, "insufficient disk space while writing to the cache: " + msg);
    }
    return new HoistException(ErrorCode.INTERNAL, "cannot write to the model cache: " + msg, false, err);
  }

  static String human(long bytes) {
    return dev.hoist.contract.Bytes.human(bytes);
  }

}
