package dev.hoist.load;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;

/**
 * Stops a native service and everything it started: a launcher script's child (the real server),
 * and that one's helpers. A service that only lost its parent would keep its memory and its port.
 *
 * <p>Three ways find the processes: the root's descendants now; processes seen in the tree
 * earlier (orphaned since); and every process whose environment carries the service's marker
 * variable ({@code HOIST_SERVICE_ID}, inherited by whatever the service starts unless it clears
 * its environment), which also finds a daemon that detached before it was ever seen.
 */
final class ProcessTree {

  private ProcessTree() {
  }

  /**
   * SIGTERM to the root, its descendants and {@code alsoSeen} (processes seen in the tree earlier,
   * which may have been orphaned), then SIGKILL to whatever still runs after {@code graceMs}.
   * Blocking: run on a worker.
   *
   * @return how many processes had to be killed forcibly
   */
  static int kill(ProcessHandle root, Collection<ProcessHandle> alsoSeen, String marker, long graceMs) {
    Set<ProcessHandle> all = new LinkedHashSet<>();
    collect(root, all);
    alsoSeen.stream().filter(ProcessTree::running).forEach(p -> collect(p, all));
    marked(marker).forEach(p -> collect(p, all));
    all.forEach(ProcessHandle::destroy);
    long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(graceMs);
    for (ProcessHandle p : all) {
      if (!waitFor(p, deadline)) {
        break;
      }
    }
    // Whatever is left, and anything started in the meantime, is killed.
    Set<ProcessHandle> left = new LinkedHashSet<>();
    for (ProcessHandle p : new ArrayList<>(all)) {
      if (running(p)) {
        collect(p, left);
      }
    }
    left.forEach(ProcessHandle::destroyForcibly);
    long killDeadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(2);
    left.forEach(p -> waitFor(p, killDeadline));
    return left.size();
  }

  /** The running processes whose environment holds {@code marker} (a {@code NAME=value} entry). */
  static List<ProcessHandle> marked(String marker) {
    List<ProcessHandle> out = new ArrayList<>();
    if (marker == null) {
      return out;
    }
    byte[] needle = (marker + "\0").getBytes(StandardCharsets.UTF_8);
    long self = ProcessHandle.current().pid();
    ProcessHandle.allProcesses().filter(p -> p.pid() != self).forEach(p -> {
      try {
        byte[] env = Files.readAllBytes(Path.of("/proc", Long.toString(p.pid()), "environ"));
        if (contains(env, needle) && running(p)) {
          out.add(p);
        }
      } catch (IOException | RuntimeException e) {
        // gone, or not ours to read
      }
    });
    return out;
  }

  private static boolean contains(byte[] hay, byte[] needle) {
    outer:
    for (int i = 0; i + needle.length <= hay.length; i++) {
      if (i > 0 && hay[i - 1] != 0) {
        continue; // entries start after a NUL
      }
      for (int j = 0; j < needle.length; j++) {
        if (hay[i + j] != needle[j]) {
          continue outer;
        }
      }
      return true;
    }
    return false;
  }

  private static void collect(ProcessHandle p, Set<ProcessHandle> into) {
    List<ProcessHandle> descendants = p.descendants().toList();
    into.addAll(descendants);
    into.add(p);
  }

  /**
   * Polls rather than {@code onExit()}: for a process that is not our child the JDK polls anyway,
   * every 300 ms and more, and it counts a zombie as alive.
   */
  private static boolean waitFor(ProcessHandle p, long deadlineNanos) {
    while (running(p)) {
      if (System.nanoTime() >= deadlineNanos) {
        return false;
      }
      try {
        Thread.sleep(10);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return !running(p);
      }
    }
    return true;
  }

  /**
   * Alive and not a zombie. A zombie has released its memory and ports; it only waits for its parent
   * (or, once orphaned, init) to collect its exit status, which is not ours to do.
   */
  static boolean running(ProcessHandle p) {
    if (!p.isAlive()) {
      return false;
    }
    try {
      String stat = Files.readString(Path.of("/proc", Long.toString(p.pid()), "stat"), StandardCharsets.US_ASCII);
      int close = stat.lastIndexOf(')'); // the command name may contain spaces and parentheses
      return close < 0 || close + 2 >= stat.length() || stat.charAt(close + 2) != 'Z';
    } catch (IOException | RuntimeException e) {
      return p.isAlive(); // gone, or no procfs: trust the JDK
    }
  }
}
