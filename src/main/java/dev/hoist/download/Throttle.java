package dev.hoist.download;

/**
 * A bandwidth limit: a virtual clock that advances by {@code bytes / rate} per chunk. A transfer
 * that runs ahead of the clock pauses reading, so the limit reaches the sender through TCP flow
 * control. One is shared by every transfer of the download verticle (HOIST_DOWNLOAD_MAX_BYTES_PER_SECOND);
 * each operation may have its own as well ({@code max_bytes_per_second}), shared by its files and
 * connections. Used on one event loop only.
 */
final class Throttle {

  private final long bytesPerSecond;
  private long nextFreeNanos;

  Throttle(long bytesPerSecond) {
    this.bytesPerSecond = bytesPerSecond;
  }

  boolean enabled() {
    return bytesPerSecond > 0;
  }

  long bytesPerSecond() {
    return bytesPerSecond;
  }

  /** Accounts for {@code bytes} just received; returns the milliseconds to pause reading (0 = go on). */
  long take(long bytes) {
    if (bytesPerSecond <= 0) {
      return 0;
    }
    long now = System.nanoTime();
    nextFreeNanos = Math.max(nextFreeNanos, now) + (long) (bytes * 1e9 / bytesPerSecond);
    long aheadMs = (nextFreeNanos - now) / 1_000_000;
    return aheadMs >= 20 ? aheadMs : 0;
  }
}
