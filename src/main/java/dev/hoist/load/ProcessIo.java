package dev.hoist.load;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.Map;
import java.util.Set;

/**
 * How many bytes a native service's processes have read so far, from {@code /proc/<pid>/io}: the
 * load progress of a service that reports none itself.
 *
 * <p>Per process we take the larger of {@code rchar} and {@code read_bytes}. {@code rchar} counts
 * every byte returned by read-like system calls, so it sees a loader that reads the weights even
 * when they come from the page cache (the usual case right after a download) — but it also counts
 * the interpreter's own files and pipes, so it can run a little ahead. {@code read_bytes} counts
 * only what was fetched from storage, which is how a loader that mmaps its weights shows up on a
 * cold cache; an mmapping loader on a warm cache shows no progress at all until it is ready.
 * The sum covers the whole process tree, and a child that already exited keeps its last count, so
 * the total never goes down. Not Linux (no procfs): always 0.
 *
 * <p>Blocking (reads procfs): call {@link #sample} on a worker, one call at a time.
 */
final class ProcessIo {

  private final Map<Long, Long> lastByPid = new HashMap<>();
  /** Every process of the tree seen so far, so that orphans left behind can still be killed. */
  private final Set<ProcessHandle> seen = new LinkedHashSet<>();

  /** The bytes read by {@code root} and its descendants, including descendants that exited. */
  synchronized long sample(ProcessHandle root) {
    record(root);
    root.descendants().forEach(this::record);
    return lastByPid.values().stream().mapToLong(Long::longValue).sum();
  }

  /** The processes seen so far (some may have exited). */
  synchronized Set<ProcessHandle> seen() {
    return new LinkedHashSet<>(seen);
  }

  private void record(ProcessHandle p) {
    seen.add(p);
    long read = bytesRead(p.pid());
    if (read >= 0) {
      lastByPid.merge(p.pid(), read, Math::max);
    }
  }

  /** Resident memory (VmRSS) of {@code root} and its descendants, in bytes; -1 without procfs. Blocking. */
  static long residentBytes(ProcessHandle root) {
    long sum = -1;
    for (ProcessHandle p : java.util.stream.Stream.concat(java.util.stream.Stream.of(root), root.descendants()).toList()) {
      try {
        for (String line : Files.readAllLines(Path.of("/proc", Long.toString(p.pid()), "status"), StandardCharsets.US_ASCII)) {
          if (line.startsWith("VmRSS:")) {
            sum = Math.max(sum, 0) + Long.parseLong(line.substring(6).trim().split("\\s+")[0]) * 1024;
          }
        }
      } catch (IOException | RuntimeException e) {
        // exited meanwhile
      }
    }
    return sum;
  }

  /** max(rchar, read_bytes) of one process, or -1 if it is gone or procfs says nothing. */
  static long bytesRead(long pid) {
    try {
      long rchar = -1;
      long readBytes = -1;
      for (String line : Files.readAllLines(Path.of("/proc", Long.toString(pid), "io"), StandardCharsets.US_ASCII)) {
        if (line.startsWith("rchar:")) {
          rchar = Long.parseLong(line.substring(6).trim());
        } else if (line.startsWith("read_bytes:")) {
          readBytes = Long.parseLong(line.substring(11).trim());
        }
      }
      return Math.max(rchar, readBytes);
    } catch (IOException | RuntimeException e) {
      return -1; // exited between listing and reading, or no procfs
    }
  }
}
