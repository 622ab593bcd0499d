package dev.hoist.load;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/** How much memory a load may use: MemAvailable, capped by the cgroup's limit if there is one. */
final class MemoryProbe {

  private MemoryProbe() {
  }

  /** Bytes available, or -1 when the system does not say (then no check is made). */
  static long available() {
    long available = memAvailable();
    long cgroup = cgroupRoom();
    if (available < 0) {
      return cgroup;
    }
    return cgroup < 0 ? available : Math.min(available, cgroup);
  }

  private static long memAvailable() {
    try {
      for (String line : Files.readAllLines(Path.of("/proc/meminfo"), StandardCharsets.US_ASCII)) {
        if (line.startsWith("MemAvailable:")) {
          String[] parts = line.trim().split("\\s+");
          return Long.parseLong(parts[1]) * 1024;
        }
      }
    } catch (IOException | RuntimeException e) {
      // not Linux, or no procfs
    }
    return -1;
  }

  /** cgroup v2: memory.max − memory.current; -1 without a limit. */
  private static long cgroupRoom() {
    try {
      String max = Files.readString(Path.of("/sys/fs/cgroup/memory.max")).trim();
      if (max.equals("max")) {
        return -1;
      }
      long current = Long.parseLong(Files.readString(Path.of("/sys/fs/cgroup/memory.current")).trim());
      return Math.max(0, Long.parseLong(max) - current);
    } catch (IOException | RuntimeException e) {
      return -1;
    }
  }
}
