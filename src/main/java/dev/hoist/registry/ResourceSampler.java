package dev.hoist.registry;

import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * What the machine has left while models load: memory available, disk free on the cache volume,
 * network receive rate and the JVM's heap. Sampled on a worker every couple of seconds and put
 * into active operations' stage detail, so a load that is about to run out of something shows it.
 */
final class ResourceSampler {

  private final Path cacheVolume;
  private long lastRxBytes = -1;
  private long lastRxNanos;

  ResourceSampler(Path cacheVolume) {
    this.cacheVolume = cacheVolume;
  }

  /** Blocking: reads /proc and the file store. */
  JsonObject sample() {
    Runtime rt = Runtime.getRuntime();
    JsonObject out = new JsonObject()
        .put("memory_available_bytes", memAvailable())
        .put("heap_used_bytes", rt.totalMemory() - rt.freeMemory())
        .put("heap_max_bytes", rt.maxMemory())
        .put("sampled_at", java.time.Instant.now().toString());
    try {
      Path existing = cacheVolume;
      while (existing != null && !Files.exists(existing)) {
        existing = existing.getParent();
      }
      if (existing != null) {
        out.put("disk_free_bytes", Files.getFileStore(existing).getUsableSpace());
      }
    } catch (IOException e) {
      // unknown: left out
    }
    long rx = rxBytes();
    long now = System.nanoTime();
    if (rx >= 0 && lastRxBytes >= 0 && now > lastRxNanos) {
      out.put("network_rx_bytes_per_second", Math.round((rx - lastRxBytes) * 1e9 / (now - lastRxNanos)));
    }
    lastRxBytes = rx;
    lastRxNanos = now;
    return out;
  }

  private static Long memAvailable() {
    try {
      for (String line : Files.readAllLines(Path.of("/proc/meminfo"), StandardCharsets.US_ASCII)) {
        if (line.startsWith("MemAvailable:")) {
          return Long.parseLong(line.trim().split("\\s+")[1]) * 1024;
        }
      }
    } catch (IOException | RuntimeException e) {
      // not Linux
    }
    return null;
  }

  /** Bytes received on all interfaces (loopback included: a local hub counts too). */
  private static long rxBytes() {
    try {
      long total = 0;
      for (String line : Files.readAllLines(Path.of("/proc/net/dev"), StandardCharsets.US_ASCII)) {
        int colon = line.indexOf(':');
        if (colon < 0) {
          continue;
        }
        String[] fields = line.substring(colon + 1).trim().split("\\s+");
        total += Long.parseLong(fields[0]);
      }
      return total;
    } catch (IOException | RuntimeException e) {
      return -1;
    }
  }
}
