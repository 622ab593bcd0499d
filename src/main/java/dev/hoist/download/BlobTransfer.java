package dev.hoist.download;

import static dev.hoist.download.DownloadJob.human;

import dev.hoist.contract.ErrorCode;
import dev.hoist.contract.HoistException;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;

/**
 * Fetching one blob into the cache, shared by every operation that needs it: they all follow the one
 * transfer and show its progress, and the hub sends the bytes once. Across processes sharing the
 * cache, a {@link BlobLock} keeps a single writer per blob; a process that waited for it finds the
 * blob complete. The blob appears under its final name only verified, by an atomic rename.
 * Runs on the download verticle's event loop.
 */
final class BlobTransfer {

  /** What an operation following the transfer hears. */
  interface Listener {
    /** Bytes of the blob on disk now (they may fall if the file has to start over). */
    void bytes(long done);

    /** Seconds without a byte while stalled; 0 once bytes flow again. */
    void stalled(long seconds);

    void log(String level, String line);
  }

  /** One operation following this transfer, with its own bandwidth limit (0 = none). */
  static final class Subscriber {
    final Listener listener;
    final Throttle throttle;

    Subscriber(Listener listener, Throttle throttle) {
      this.listener = listener;
      this.throttle = throttle;
    }
  }

  private static final long WAIT_POLL_MS = 500;

  private final DownloadVerticle owner;
  private final Vertx vertx;
  private final String repo;
  private final String hub;
  private final String url;
  private final RemoteFile file;
  private final Path blob;
  private final List<Subscriber> subscribers = new ArrayList<>();
  private final StallWatchdog watchdog;
  private final Promise<Void> done = Promise.promise();
  private RangedTransfer current;
  private HoistException aborted;
  private long bytes;
  private long stalledSeconds;
  /** Who held the blob's lock when this transfer had to wait for it, or null. */
  private String holder;

  BlobTransfer(DownloadVerticle owner, String repo, String hub, String url, RemoteFile file) {
    this.owner = owner;
    this.vertx = owner.vertx();
    this.repo = repo;
    this.hub = hub;
    this.url = url;
    this.file = file;
    this.blob = owner.cache().blob(repo, file.etag());
    this.watchdog = new StallWatchdog(vertx, owner.settings().downloadStallSeconds(), this::stalled);
  }

  Future<Void> future() {
    return done.future();
  }

  long bytes() {
    return bytes;
  }

  /** Follows the transfer from now: hears the bytes so far at once. */
  void subscribe(Subscriber s) {
    subscribers.add(s);
    s.listener.bytes(bytes);
    if (stalledSeconds > 0) {
      s.listener.stalled(stalledSeconds);
    }
  }

  /** Stops following; a transfer nobody follows any more stops too (its partial file stays for later). */
  void unsubscribe(Subscriber s) {
    subscribers.remove(s);
    if (subscribers.isEmpty() && !done.future().isComplete()) {
      abort(new HoistException(ErrorCode.CANCELLED, "no operation needs " + file.path + " any more"));
    }
  }

  /** True once stopped: a transfer that is winding down is not joined, a new one starts after it. */
  boolean isAborted() {
    return aborted != null;
  }

  void abort(HoistException why) {
    if (aborted == null) {
      aborted = why;
      if (current != null) {
        current.abort(why);
      }
    }
  }

  Future<Void> start() {
    long[] waitTimer = {-1};
    BlobLock.acquire(vertx, owner.cache().lock(repo, file.etag()), inThisJvm -> {
      holder = inThisJvm ? "another download in this process" : "another process";
      log("info", (inThisJvm ? "Another download in this process" : "Another process") + " is downloading " + file.path
          + " into this cache; waiting for it to finish");
      waitTimer[0] = vertx.setPeriodic(WAIT_POLL_MS, t -> showTheirProgress());
    }, () -> aborted != null)
        .andThen(ar -> {
          if (waitTimer[0] >= 0) {
            vertx.cancelTimer(waitTimer[0]);
          }
        })
        .recover(err -> Future.failedFuture(aborted != null ? aborted : DownloadJob.localIo(err)))
        .compose(lock -> fetchUnlessPresent()
            .transform(ar -> vertx.executeBlocking(() -> {
              lock.release();
              return null;
            }).transform(released -> ar.succeeded() ? Future.<Void>succeededFuture() : Future.<Void>failedFuture(ar.cause()))))
        .onComplete(ar -> {
          watchdog.stop();
          if (ar.succeeded()) {
            done.tryComplete();
          } else {
            done.tryFail(ar.cause());
          }
        });
    return done.future();
  }

  /** Holding the lock: someone may have completed the blob meanwhile; else fetch it. */
  private Future<Void> fetchUnlessPresent() {
    return vertx.executeBlocking(() -> {
      if (owner.cache().hasBlob(repo, file)) {
        PartialBlob.discardAll(owner.cache(), repo, file); // leftovers of whoever completed it
        return true;
      }
      return false;
    }).recover(err -> Future.failedFuture(DownloadJob.localIo(err))).compose(present -> {
      if (present) {
        bytes(file.size);
        if (holder != null) {
          log("info", file.path + " was completed by " + holder + "; not fetching it again");
        }
        return Future.succeededFuture();
      }
      return fetch(true);
    });
  }

  /** Fetches and verifies; a checksum mismatch discards the bytes and fetches them once more. */
  private Future<Void> fetch(boolean mayRefetch) {
    if (aborted != null) {
      return Future.failedFuture(aborted);
    }
    current = new RangedTransfer(owner, repo, hub, url, file, watchdog, this::throttleWait, this::limited, new RangedTransfer.Events() {
      @Override
      public void bytes(long done) {
        BlobTransfer.this.bytes(done);
      }

      @Override
      public void log(String level, String line) {
        BlobTransfer.this.log(level, line);
      }
    });
    if (aborted != null) {
      current.abort(aborted);
    }
    return current.run().compose(verified -> vertx.executeBlocking(() -> {
      Files.move(verified.data, blob, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
      if (verified.parts != null) {
        Files.deleteIfExists(verified.parts);
      }
      return null;
    }).recover(err -> Future.failedFuture(DownloadJob.localIo(err)))).<Void>mapEmpty().recover(err -> {
      if (err instanceof PartialBlob.ChecksumMismatch && mayRefetch && aborted == null) {
        log("warn", err.getMessage() + "; the file was discarded, fetching it once more");
        bytes(0);
        return fetch(false);
      }
      return Future.failedFuture(err);
    });
  }

  /** While another process holds the lock, its partial file shows how far it got. */
  private void showTheirProgress() {
    vertx.executeBlocking(() -> PartialBlob.bytesOnDisk(owner.cache(), repo, file), false).onSuccess(this::bytes);
  }

  /** The global limit, and the loosest limit of the operations following: the bytes serve all of them. */
  private long throttleWait(long n) {
    long global = owner.throttle().take(n);
    Throttle loosest = null;
    for (Subscriber s : subscribers) {
      if (!s.throttle.enabled()) {
        return global;
      }
      if (loosest == null || s.throttle.bytesPerSecond() > loosest.bytesPerSecond()) {
        loosest = s.throttle;
      }
    }
    return loosest == null ? global : Math.max(global, loosest.take(n));
  }

  /** True while a bandwidth limit applies to these bytes (the global one, or every following operation's). */
  private boolean limited() {
    return owner.throttle().enabled() || (!subscribers.isEmpty() && subscribers.stream().allMatch(s -> s.throttle.enabled()));
  }

  private void bytes(long n) {
    bytes = n;
    for (Subscriber s : new ArrayList<>(subscribers)) {
      s.listener.bytes(n);
    }
  }

  private void stalled(long seconds) {
    if (seconds > 0 && stalledSeconds == 0) {
      log("warn", "No data from the hub for " + file.path + " for " + seconds + " s (at " + human(bytes) + " of "
          + human(file.size) + "); replacing the connection");
    } else if (seconds == 0 && stalledSeconds > 0) {
      log("info", "Data is flowing again for " + file.path);
    }
    stalledSeconds = seconds;
    for (Subscriber s : new ArrayList<>(subscribers)) {
      s.listener.stalled(seconds);
    }
  }

  private void log(String level, String line) {
    for (Subscriber s : new ArrayList<>(subscribers)) {
      s.listener.log(level, line);
    }
  }
}
