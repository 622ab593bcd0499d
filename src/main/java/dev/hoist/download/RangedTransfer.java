package dev.hoist.download;

import static dev.hoist.download.DownloadJob.human;

import dev.hoist.contract.ErrorCode;
import dev.hoist.contract.HoistException;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.function.BooleanSupplier;
import java.util.function.LongUnaryOperator;

/**
 * Brings one blob's bytes onto disk and verifies them; the caller renames the result into the cache.
 *
 * <p>A file larger than one chunk (HOIST_DOWNLOAD_CHUNK_BYTES) is split into ranges fetched over
 * several connections at once (HOIST_DOWNLOAD_CONNECTIONS_PER_FILE): the first connection, which
 * queues for a slot, is also the probe — only once the hub has answered it with a correct 206 do
 * extra connections start, each taking a free slot nobody waits for. A hub that answers a Range
 * request with 200 gets the file as one stream from byte 0 over that very response (the partial
 * state is dropped: a full body is correct data, and nothing else would be). Smaller files are one
 * stream, resumed from their {@code .incomplete} prefix. Either way the bytes are hashed as they are
 * written, in file order ({@link PrefixHasher}): only what arrives ahead of the hashed prefix is read
 * back, so verifying costs no second full read; the ranged state is saved beside the data
 * ({@link PartialBlob}, {@link PartsSaver}) so a restart resumes every range.
 *
 * <p>A connection that fails with a transient error (reset, cut, stalled, 429, 5xx) is retried in
 * place after a backoff, from the bytes on disk; the retry budget (HOIST_DOWNLOAD_RETRIES) counts
 * failures in a row without progress, so a long download survives many unrelated hiccups. A clear
 * answer (wrong size, wrong range, 401/403, 404) fails the transfer at once.
 *
 * <p>Everything here runs on the download verticle's event loop; file work goes to workers.
 */
final class RangedTransfer {

  /** What the transfer tells its owner. */
  interface Events {
    /** Bytes of the blob on disk now. */
    void bytes(long done);

    void log(String level, String line);
  }

  private final DownloadVerticle owner;
  private final Vertx vertx;
  private final String repo;
  private final String hub;
  private final String url;
  private final RemoteFile file;
  private final StallWatchdog watchdog;
  private final LongUnaryOperator throttle;
  private final BooleanSupplier limited;
  private final Events events;
  private final int connectionsPerFile;

  private PartialBlob blob;
  /** Partial states replaced by a restart, closed once their last writers are done. */
  private final List<PartialBlob> retired = new ArrayList<>();
  private final Set<Connection> connections = new HashSet<>();
  private boolean rangesConfirmed;
  /** Whether extra connections may open: null until the first connection's speed is known. */
  private Boolean split;
  private long probeStartNanos;
  private long probeBytes;
  private long probeTimer = -1;
  private boolean rangesRefused;
  private int failuresInARow;
  private int extras;
  private int attemptsInFlight;
  private HoistException failure;
  private Promise<Void> idle;
  private Promise<Void> segmentFreed;
  private Promise<Void> slotGate;
  private int restarts;
  private final PartsSaver saver;
  /** How long the first connection is watched before extra ones may open (see {@link #startProbe}). */
  private static final long SPLIT_PROBE_MS = 1000;

  RangedTransfer(DownloadVerticle owner, String repo, String hub, String url, RemoteFile file, StallWatchdog watchdog,
      LongUnaryOperator throttle, BooleanSupplier limited, Events events) {
    this.owner = owner;
    this.vertx = owner.vertx();
    this.repo = repo;
    this.hub = hub;
    this.url = url;
    this.file = file;
    this.watchdog = watchdog;
    this.throttle = throttle;
    this.limited = limited;
    this.events = events;
    this.connectionsPerFile = owner.settings().downloadConnectionsPerFile();
    this.saver = new PartsSaver(vertx, () -> blob);
  }

  /** Runs to the end: the verified blob's data file, ready to be renamed, or the reason it failed. */
  Future<PartialBlob> run() {
    boolean split = file.size > owner.settings().downloadChunkBytes() && connectionsPerFile > 1;
    return vertx.executeBlocking(() -> PartialBlob.open(owner.cache(), repo, file, split, owner.settings().downloadChunkBytes()))
        .recover(err -> Future.failedFuture(DownloadJob.localIo(err)))
        .compose(opened -> {
          blob = opened;
          long have = opened.done();
          events.bytes(have);
          if (have > 0) {
            events.log("info", "Resuming " + file.path + ": " + human(have) + " of " + human(file.size) + " already on disk");
          }
          if (opened.ranged) {
            events.log("info", "Fetching " + file.path + " (" + human(file.size) + ") in " + opened.segments.size()
                + " ranges over up to " + connectionsPerFile + " connections");
          }
          if (failure != null) {
            return Future.failedFuture(failure);
          }
          if (opened.complete()) {
            return Future.succeededFuture();
          }
          // The queued slot, unless the transfer is stopped while it waits.
          slotGate = Promise.promise();
          Promise<Void> gate = slotGate;
          owner.slots().acquire().onSuccess(v -> {
            if (!gate.tryComplete()) {
              owner.slots().release();
            }
          });
          return gate.future().compose(v -> {
            watchdog.arm();
            return primary().andThen(ar -> owner.slots().release());
          });
        })
        .transform(ar -> whenIdle().compose(v -> saver.flush()).transform(v -> ar.succeeded() && failure == null
            ? verify() : closeAfterFailure(ar.failed() ? ar.cause() : failure)));
  }

  /** Stops at once: connections closed, the partial state kept on disk for a later resume. */
  void abort(HoistException why) {
    fail(why);
  }

  // ------------------------------------------------------------------ workers

  /** The connection that holds the queued slot: works until every range is on disk. */
  private Future<Void> primary() {
    if (failure != null) {
      return Future.failedFuture(failure);
    }
    PartialBlob.Segment next = blob == null ? null : nextFree();
    if (next == null) {
      if (blob != null && blob.complete()) {
        return Future.succeededFuture();
      }
      segmentFreed = Promise.promise(); // the rest is being fetched by extra connections, or a restart is under way
      return segmentFreed.future().compose(v -> primary());
    }
    return fetchSegment(next).compose(v -> primary());
  }

  /**
   * The first 206 came: extra connections wait until the first connection's speed is known — at the
   * end of its first range or after a second, whichever comes first.
   */
  private void startProbe() {
    long below = owner.settings().downloadSplitBelowBytesPerSecond();
    if (below <= 0 || connectionsPerFile <= 1) {
      split = true;
      return;
    }
    probeStartNanos = System.nanoTime();
    probeTimer = vertx.setTimer(SPLIT_PROBE_MS, t -> {
      probeTimer = -1;
      if (failure == null) { // a transfer that already failed or was stopped decides nothing more
        decideSplit();
      }
    });
  }

  private void decideSplit() {
    if (split != null || probeStartNanos == 0) {
      if (split == null) {
        split = true; // no probe ran (a resume that started past the probe): as before
      }
      spawnExtras();
      return;
    }
    if (probeTimer >= 0) {
      vertx.cancelTimer(probeTimer);
      probeTimer = -1;
    }
    long below = owner.settings().downloadSplitBelowBytesPerSecond();
    double seconds = Math.max(1e-3, (System.nanoTime() - probeStartNanos) / 1e9);
    double rate = probeBytes / seconds;
    split = rate < below;
    events.log("info", "One connection brings " + human((long) rate) + "/s of " + file.path + (split
        ? " (less than " + human(below) + "/s): opening up to " + (connectionsPerFile - 1) + " more for its ranges"
        : " (at least " + human(below) + "/s): fetching the rest over it alone"));
    spawnExtras();
  }

  /**
   * The ranges one request asks for, from {@code s} on: {@code s} alone, or — while the file is fetched
   * over one connection alone — every untouched range right after it as well, so that connection does not
   * stop at each range's end (a request, and the disk queue drained, per range). A retry may find the
   * first ranges already done: the run starts at the first one that is not.
   */
  private List<PartialBlob.Segment> run(PartialBlob.Segment s) {
    List<PartialBlob.Segment> run = new ArrayList<>();
    if (!Boolean.FALSE.equals(split) || !blob.ranged || !blob.segments.contains(s)) {
      run.add(s);
      return run;
    }
    int i = blob.segments.indexOf(s);
    while (i < blob.segments.size() - 1 && blob.segments.get(i).complete()) {
      i++;
    }
    run.add(blob.segments.get(i));
    for (int j = i + 1; j < blob.segments.size(); j++) {
      PartialBlob.Segment next = blob.segments.get(j);
      PartialBlob.Segment last = run.get(run.size() - 1);
      if (next.busy || next.done > 0 || next.start != last.end) {
        break;
      }
      run.add(next);
    }
    return run;
  }

  /** Extra connections for the remaining ranges, on slots nobody is waiting for. */
  private void spawnExtras() {
    while (failure == null && blob != null && blob.ranged && rangesConfirmed && !rangesRefused && Boolean.TRUE.equals(split)
        && extras + 1 < connectionsPerFile
        && freeSegments() > 0 && owner.slots().tryAcquire()) {
      extras++;
      PartialBlob.Segment s = nextFree();
      fetchSegment(s).onComplete(ar -> {
        extras--;
        owner.slots().release();
        signalFreed();
        if (ar.succeeded()) {
          spawnExtras();
        }
      });
    }
  }

  private PartialBlob.Segment nextFree() {
    for (PartialBlob.Segment s : blob.segments) {
      if (!s.busy && !s.complete()) {
        return s;
      }
    }
    return null;
  }

  private long freeSegments() {
    return blob.segments.stream().filter(s -> !s.busy && !s.complete()).count();
  }

  private void signalFreed() {
    if (segmentFreed != null) {
      Promise<Void> p = segmentFreed;
      segmentFreed = null;
      p.tryComplete();
    }
  }

  /** Fetches one range to its end, retrying transient failures in place. */
  private Future<Void> fetchSegment(PartialBlob.Segment s) {
    s.busy = true;
    PartialBlob mine = blob;
    return attempt(s).transform(ar -> {
      s.busy = false;
      if (failure != null) {
        return Future.failedFuture(failure);
      }
      boolean replaced = blob != mine; // a restart replaced this state: the caller picks from the new one
      if (ar.succeeded() && (replaced || s.complete())) {
        decideSplit();
        saver.now();
        spawnExtras();
        return Future.succeededFuture();
      }
      Throwable err = ar.failed() ? ar.cause() : new Retries.TransientFailure("the hub sent less of " + file.path + " than asked");
      if (!Retries.isTransient(err)) {
        fail(err instanceof HoistException ? (HoistException) err : DownloadJob.localIo(err));
        return Future.failedFuture(failure);
      }
      int max = owner.settings().downloadRetries();
      if (failuresInARow >= max) {
        fail(Retries.gaveUp("download " + file.path, failuresInARow + 1, err));
        return Future.failedFuture(failure);
      }
      long delay = Retries.delayMs(failuresInARow, err, owner.settings().retryBaseMs());
      failuresInARow++;
      events.log("warn", Retries.retryLine("download " + file.path, delay, failuresInARow + 1, max + 1, err));
      Promise<Void> again = Promise.promise();
      s.busy = !replaced; // the range stays ours through the backoff: no other connection takes it meanwhile
      vertx.setTimer(Math.max(1, delay), t -> {
        if (failure != null || replaced || blob != mine) {
          s.busy = false;
          signalFreed();
          if (failure != null) {
            again.fail(failure);
          } else {
            again.complete();
          }
        } else {
          fetchSegment(s).onComplete(again);
        }
      });
      return again.future();
    });
  }

  // ------------------------------------------------------------------ one request

  /** One HTTP request for the rest of a range; completes when its bytes are on disk. */
  private Future<Void> attempt(PartialBlob.Segment first) {
    List<PartialBlob.Segment> run = run(first);
    PartialBlob.Segment s = run.get(0);
    long end = run.get(run.size() - 1).end;
    long from = s.next();
    boolean closed = blob.ranged; // ranged: ask for exactly these ranges; stream: the rest of the file
    String range = from == 0 && !closed ? null : "bytes=" + from + "-" + (closed ? String.valueOf(end - 1) : "");
    Connection c = new Connection();
    connections.add(c);
    begin();
    return owner.files().get(hub, url, range, c::sent, limited.getAsBoolean())
        .compose(resp -> answer(c, run, from, range != null, resp))
        .transform(ar -> {
          c.watch.close();
          connections.remove(c);
          end();
          if (ar.failed() && c.watch.killed()) {
            return Future.failedFuture(new Retries.TransientFailure("no data from the hub for " + owner.settings().downloadStallSeconds()
                + " s while fetching " + file.path + "; replaced the connection"));
          }
          return ar.succeeded() ? Future.<Void>succeededFuture() : Future.<Void>failedFuture(ar.cause());
        });
  }

  /** Checks the status and headers of an answer, then streams its body into place. */
  private Future<Void> answer(Connection c, List<PartialBlob.Segment> run, long from, boolean rangeSent, FileAnswer resp) {
    RangeAnswer answer;
    try {
      answer = RangeAnswer.judge(resp, file, from, run.get(run.size() - 1).end, rangeSent, !blob.ranged, repo, owner.hubs().authorization(hub) != null);
    } catch (HoistException e) {
      resp.discard();
      return Future.failedFuture(e);
    }
    switch (answer.kind) {
      case IGNORED_RANGE:
        return restartAsStream(c, resp);
      case REFUSED_RESUME:
        resp.discard();
        return restart(blob).compose(v -> Future.failedFuture(
            new Retries.TransientFailure("the hub refused the resume range for " + file.path + "; starting it over")));
      default:
        if (resp.status() == 206) {
          if (!rangesConfirmed && blob.ranged) {
            startProbe();
          }
          rangesConfirmed = true;
          if (!blob.ranged && from > 0) {
            events.log("info", "Resuming " + file.path + " from " + human(from) + " of " + human(file.size));
          }
          spawnExtras();
        }
        return receive(c, run, resp, answer.length);
    }
  }

  /** The hub ignored our Range request: take its full body as a new stream from byte 0. */
  private Future<Void> restartAsStream(Connection c, FileAnswer resp) {
    if (++restarts > owner.settings().downloadRetries() + 1) {
      resp.kill();
      return Future.failedFuture(new HoistException(ErrorCode.HUB_ERROR, "the hub ignores Range requests for " + file.path
          + " and its connection ended before the file did " + restarts + " times; giving up", true, null));
    }
    events.log("warn", "The hub ignored the Range request for " + file.path + " (HTTP 200 instead of 206); starting the file over as one stream");
    rangesRefused = true;
    for (Connection other : new ArrayList<>(connections)) {
      if (other != c) {
        other.kill(); // their ranges belong to the state being dropped
      }
    }
    return restart(blob).compose(v -> {
      events.bytes(0);
      signalFreed();
      PartialBlob.Segment whole = blob.segments.get(0);
      whole.busy = true;
      return receive(c, List.of(whole), resp, file.size).eventually(() -> {
        whole.busy = false;
        return Future.succeededFuture();
      });
    });
  }

  /** Replaces the partial state with an empty stream; the old one is closed once its writers are done. */
  private Future<Void> restart(PartialBlob old) {
    retired.add(old);
    blob = null;
    return vertx.executeBlocking(() -> PartialBlob.restartAsStream(owner.cache(), repo, file))
        .recover(err -> Future.failedFuture(DownloadJob.localIo(err)))
        .map(fresh -> {
          blob = fresh;
          return null;
        });
  }

  /** Streams a body into the partial file, with back-pressure from the disk and the bandwidth limits. */
  private Future<Void> receive(Connection c, List<PartialBlob.Segment> run, FileAnswer resp, long expected) {
    Promise<Void> received = Promise.promise();
    PartialBlob target = blob;
    long[] got = {0};
    long from = run.get(0).next();
    int[] current = {0};
    BlobSink sink = new BlobSink(vertx, target.channel, from, target.hasher, n -> {
      // The bytes fill the run's ranges in order (one range, unless one connection fetches several at once).
      long left = n;
      while (left > 0) {
        PartialBlob.Segment seg = run.get(current[0]);
        long take = Math.min(left, seg.end - seg.next());
        seg.done += take;
        left -= take;
        if (seg.complete() && current[0] < run.size() - 1) {
          current[0]++;
        } else if (take == 0) {
          break; // never more than the run holds: the answer's length was checked against it
        }
      }
      if (blob == target) {
        failuresInARow = 0; // progress: the retry budget starts over
        events.bytes(target.done());
        saver.maybe();
      }
    });
    Flow flow = new Flow(resp, c.watch);
    // A failed write (a full disk) ends this connection now, not after the rest of the body arrives.
    sink.failureHandler(err -> {
      received.tryFail(DownloadJob.localIo(err));
      c.kill();
    });
    resp.body(buf -> {
      int n = buf.readableBytes();
      if (got[0] + n > expected) {
        buf.release();
        received.tryFail(new HoistException(ErrorCode.HUB_ERROR, "the hub sent more bytes of " + file.path
            + " than it announced (listed as " + human(file.size) + "); the hub's file list and its file disagree"));
        c.kill();
        return;
      }
      got[0] += n;
      c.watch.bytes();
      if (split == null) {
        probeBytes += n;
      }
      sink.write(buf);
      if (sink.isFull() && !flow.disk) {
        flow.disk = true;
        flow.update();
        sink.drainHandler(() -> {
          flow.disk = false;
          flow.update();
        });
      }
      long waitMs = throttle.applyAsLong(n);
      if (waitMs > 0 && !flow.limit) {
        flow.limit = true;
        flow.update();
        vertx.setTimer(waitMs, t -> {
          flow.limit = false;
          flow.update();
        });
      }
    }, v -> received.tryComplete(), received::tryFail);
    return received.future().transform(ar -> sink.flush().transform(flushed -> {
      if (flushed.failed()) {
        return Future.failedFuture(DownloadJob.localIo(flushed.cause()));
      }
      if (ar.failed()) {
        return Future.failedFuture(ar.cause());
      }
      if (got[0] < expected) {
        return Future.failedFuture(new Retries.TransientFailure("the connection ended after " + human(from + got[0])
            + " of " + file.path + " (" + human(file.size) + ")"));
      }
      return Future.succeededFuture();
    }));
  }

  // ------------------------------------------------------------------ bookkeeping

  private void begin() {
    attemptsInFlight++;
  }

  private void end() {
    attemptsInFlight--;
    if (attemptsInFlight == 0 && idle != null) {
      Promise<Void> p = idle;
      idle = null;
      p.tryComplete();
    }
  }

  /** Completes once no request of this transfer is in flight (so no writer touches the files). */
  private Future<Void> whenIdle() {
    if (attemptsInFlight == 0) {
      return Future.succeededFuture();
    }
    if (idle == null) {
      idle = Promise.promise();
    }
    return idle.future();
  }

  private void fail(HoistException why) {
    if (failure != null) {
      return;
    }
    failure = why;
    if (slotGate != null) {
      slotGate.tryFail(why);
    }
    for (Connection c : new ArrayList<>(connections)) {
      c.kill();
    }
    signalFreed();
  }

  private Future<PartialBlob> verify() {
    PartialBlob done = blob;
    List<PartialBlob> old = new ArrayList<>(retired);
    return vertx.executeBlocking(() -> {
      for (PartialBlob r : old) {
        r.close();
      }
      done.verify();
      return done;
    }).recover(err -> Future.failedFuture(err instanceof HoistException ? err : DownloadJob.localIo(err)));
  }

  private Future<PartialBlob> closeAfterFailure(Throwable err) {
    PartialBlob current = blob;
    List<PartialBlob> old = new ArrayList<>(retired);
    return vertx.executeBlocking(() -> {
      for (PartialBlob r : old) {
        r.close();
      }
      if (current != null) {
        current.close();
      }
      return null;
    }).transform(ar -> Future.failedFuture(err));
  }

  /** One connection: a way to reset its request, and its stall watch. */
  private final class Connection {
    Runnable reset;
    final StallWatchdog.Watch watch = watchdog.watch(this::kill);
    private boolean killed;

    void sent(Runnable reset) {
      this.reset = reset;
      if (killed) {
        reset.run();
      }
    }

    void kill() {
      if (!killed) {
        killed = true;
        if (reset != null) {
          reset.run();
        }
      }
    }
  }

  /** Pauses the response while either the disk or a bandwidth limit asks for it. */
  private static final class Flow {
    final FileAnswer resp;
    final StallWatchdog.Watch watch;
    boolean disk;
    boolean limit;

    Flow(FileAnswer resp, StallWatchdog.Watch watch) {
      this.resp = resp;
      this.watch = watch;
    }

    void update() {
      boolean pause = disk || limit;
      watch.paused(pause);
      if (pause) {
        resp.pause();
      } else {
        resp.resume();
      }
    }
  }
}
