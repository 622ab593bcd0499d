package dev.hoist.registry;

import java.util.ArrayDeque;
import java.util.Iterator;

/**
 * Bytes per second over a sliding window. The rate is measured up to <em>now</em>, not up to the
 * last sample, so a stalled transfer shows a falling rate instead of a frozen one; it is 0 until the
 * samples span a tenth of the window.
 */
final class RateWindow {

  private final long windowNanos;
  private final ArrayDeque<long[]> samples = new ArrayDeque<>(); // {nanoTime, bytes}

  RateWindow(long windowMillis) {
    this.windowNanos = windowMillis * 1_000_000L;
  }

  void reset() {
    samples.clear();
  }

  void add(long nanoTime, long bytes) {
    long[] last = samples.peekLast();
    if (last != null && bytes < last[1]) {
      // A restarted file counts down; start measuring again rather than report a negative rate.
      samples.clear();
    }
    samples.addLast(new long[] {nanoTime, bytes});
    trim(nanoTime);
  }

  /** Bytes per second, or 0 when there is not enough history to say. */
  double rate(long nowNanos) {
    trim(nowNanos);
    if (samples.size() < 2 && (samples.isEmpty() || nowNanos - samples.peekFirst()[0] < windowNanos / 4)) {
      return 0;
    }
    // A rate over a few milliseconds is the size of one read, not a speed: the first pieces of a
    // throttled download would show several times its limit.
    if (nowNanos - samples.peekFirst()[0] < windowNanos / 10) {
      return 0;
    }
    long[] first = samples.peekFirst();
    long[] last = samples.peekLast();
    long elapsed = nowNanos - first[0];
    if (elapsed <= 0) {
      return 0;
    }
    return (last[1] - first[1]) * 1e9 / elapsed;
  }

  /** Drops samples older than the window but keeps one anchor at or before its start. */
  private void trim(long nowNanos) {
    long start = nowNanos - windowNanos;
    while (samples.size() >= 2) {
      Iterator<long[]> it = samples.iterator();
      it.next();
      if (it.next()[0] <= start) {
        samples.pollFirst();
      } else {
        break;
      }
    }
  }
}
