package dev.hoist.gateway;

import java.util.HashMap;
import java.util.Iterator;
import java.util.Map;

/**
 * A token bucket per client address: {@code perMinute} requests a minute, refilled continuously,
 * so a script that loops on POST /api/llm/load is slowed down without hurting anyone else. Used on
 * one event loop only.
 */
final class RateLimiter {

  private static final int MAX_CLIENTS = 100_000;

  private final int perMinute;
  private final Map<String, double[]> buckets = new HashMap<>(); // {tokens, lastNanos}

  RateLimiter(int perMinute) {
    this.perMinute = perMinute;
  }

  /** 0 if allowed (and counted), else the seconds to wait. */
  long acquire(String client) {
    if (perMinute <= 0) {
      return 0;
    }
    long now = System.nanoTime();
    if (buckets.size() > MAX_CLIENTS) {
      evictFull(now);
    }
    double[] b = buckets.computeIfAbsent(client, k -> new double[] {perMinute, now});
    b[0] = Math.min(perMinute, b[0] + (now - b[1]) / 60e9 * perMinute);
    b[1] = now;
    if (b[0] >= 1) {
      b[0] -= 1;
      return 0;
    }
    return (long) Math.ceil((1 - b[0]) * 60.0 / perMinute);
  }

  /** Forgets clients whose buckets have refilled: they would start full anyway. */
  private void evictFull(long now) {
    for (Iterator<double[]> it = buckets.values().iterator(); it.hasNext(); ) {
      double[] b = it.next();
      if (b[0] + (now - b[1]) / 60e9 * perMinute >= perMinute) {
        it.remove();
      }
    }
  }
}
