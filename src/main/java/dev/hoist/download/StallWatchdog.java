package dev.hoist.download;

import io.vertx.core.Vertx;
import java.util.ArrayList;
import java.util.List;
import java.util.function.LongConsumer;

/**
 * One transfer's stall detector, a timer of its own rather than only the HTTP client's idle
 * timeout, so a stall shows in the progress while it lasts instead of surfacing later as an error.
 *
 * <p>A connection silent for HOIST_DOWNLOAD_STALL_SECONDS is killed (the transfer then resumes on a
 * new one with {@code Range}). The transfer itself counts as stalled while no byte has arrived on any
 * of its connections for that long — replacing a connection does not end the stall, bytes do. The
 * listener hears the stalled seconds on entering a stall, every further second, and 0 once bytes
 * flow again. Time a connection spends paused by us (bandwidth limit, a slow disk) is not silence.
 * Used on the download verticle's event loop only.
 */
final class StallWatchdog {

  private static final long TICK_MS = 250;

  private final Vertx vertx;
  private final long stallNanos;
  private final LongConsumer listener;
  private final List<Watch> watches = new ArrayList<>();
  private long timer = -1;
  private long lastByte;
  private int paused;
  private long stalledSeconds;

  StallWatchdog(Vertx vertx, int stallSeconds, LongConsumer listener) {
    this.vertx = vertx;
    this.stallNanos = stallSeconds * 1_000_000_000L;
    this.listener = listener;
  }

  /** Starts watching; the transfer's clock starts now (waiting for a lock or a slot is not a stall). */
  void arm() {
    if (timer < 0) {
      lastByte = System.nanoTime();
      timer = vertx.setPeriodic(TICK_MS, id -> tick());
    }
  }

  void stop() {
    if (timer >= 0) {
      vertx.cancelTimer(timer);
      timer = -1;
    }
    watches.clear();
    if (stalledSeconds > 0) {
      stalledSeconds = 0;
      listener.accept(0);
    }
  }

  long stalledSeconds() {
    return stalledSeconds;
  }

  /** Watches one connection from its request on; {@code kill} closes it. */
  Watch watch(Runnable kill) {
    Watch w = new Watch(kill);
    watches.add(w);
    return w;
  }

  private void tick() {
    long now = System.nanoTime();
    for (Watch w : new ArrayList<>(watches)) {
      if (!w.paused && !w.killed && now - w.last >= stallNanos) {
        w.killed = true;
        w.kill.run();
      }
    }
    if (paused == 0 && now - lastByte >= stallNanos) {
      long seconds = (now - lastByte) / 1_000_000_000L;
      if (seconds != stalledSeconds) {
        stalledSeconds = seconds;
        listener.accept(seconds);
      }
    }
  }

  private void flowing(long now) {
    lastByte = now;
    if (stalledSeconds > 0) {
      stalledSeconds = 0;
      listener.accept(0);
    }
  }

  /** One connection of the transfer. */
  final class Watch {
    private final Runnable kill;
    private long last = System.nanoTime();
    private boolean paused;
    private boolean killed;
    private boolean closed;

    private Watch(Runnable kill) {
      this.kill = kill;
    }

    /** True once the watchdog closed this connection for silence. */
    boolean killed() {
      return killed;
    }

    void bytes() {
      long now = System.nanoTime();
      last = now;
      flowing(now);
    }

    /** We paused reading (true) or resumed it (false): the silence in between is ours, not the hub's. */
    void paused(boolean on) {
      if (on == paused || closed) {
        return; // a timer may resume a response that has already ended
      }
      paused = on;
      StallWatchdog.this.paused += on ? 1 : -1;
      if (!on) {
        last = System.nanoTime();
        lastByte = Math.max(lastByte, last);
      }
    }

    void close() {
      if (paused) {
        paused(false);
      }
      closed = true;
      watches.remove(this);
    }
  }
}
