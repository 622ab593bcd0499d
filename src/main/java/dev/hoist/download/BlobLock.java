package dev.hoist.download;

import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;

/**
 * A lock on one blob across processes sharing a cache: an OS file lock ({@link FileChannel#tryLock})
 * on its lock file, taken on a worker. A process that finds it held polls until it is free — by then
 * the holder has usually renamed the complete blob into place, which the caller checks. The OS drops
 * the lock if its holder dies, so a crashed process never blocks the others.
 */
final class BlobLock {

  static final long POLL_MS = 200;

  /** Lock files this JVM holds a lock on. */
  private static final Set<Path> HELD_HERE = ConcurrentHashMap.newKeySet();

  private final Path key;
  private final FileChannel channel;
  private final FileLock lock;

  private BlobLock(Path key, FileChannel channel, FileLock lock) {
    this.key = key;
    this.channel = channel;
    this.lock = lock;
  }

  /**
   * Takes the lock, polling while another holder has it; {@code onWait} runs once if it must wait
   * (told whether the holder is in this JVM), {@code stop} ends the wait early (the future then fails).
   */
  static Future<BlobLock> acquire(Vertx vertx, Path file, Consumer<Boolean> onWait, BooleanSupplier stop) {
    Promise<BlobLock> result = Promise.promise();
    attempt(vertx, file, onWait, stop, result, false);
    return result.future();
  }

  private static void attempt(Vertx vertx, Path file, Consumer<Boolean> onWait, BooleanSupplier stop, Promise<BlobLock> result,
      boolean waited) {
    vertx.executeBlocking(() -> tryLock(file), false).onComplete(ar -> {
      if (ar.failed()) {
        result.fail(ar.cause());
      } else if (ar.result() != null) {
        result.complete(ar.result());
      } else if (stop.getAsBoolean()) {
        result.fail(new IOException("stopped while waiting for the lock on " + file.getFileName()));
      } else {
        if (!waited) {
          onWait.accept(HELD_HERE.contains(file.toAbsolutePath().normalize()));
        }
        vertx.setTimer(POLL_MS, t -> attempt(vertx, file, onWait, stop, result, true));
      }
    });
  }

  /** Blocking: the lock, or null if another process (or another Hoist in this JVM) holds it. */
  private static BlobLock tryLock(Path file) throws IOException {
    Path key = file.toAbsolutePath().normalize();
    // Within one JVM, the lock is ours already: do not even open the file, because closing any
    // channel of a file drops every OS lock this process holds on it (POSIX record locks).
    if (!HELD_HERE.add(key)) {
      return null;
    }
    FileChannel channel = null;
    try {
      Files.createDirectories(key.getParent());
      channel = FileChannel.open(key, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
      FileLock lock = channel.tryLock();
      if (lock != null) {
        return new BlobLock(key, channel, lock);
      }
    } catch (OverlappingFileLockException e) {
      // cannot happen while HELD_HERE is consulted, but means "held" if it does
    } catch (IOException | RuntimeException e) {
      HELD_HERE.remove(key);
      if (channel != null) {
        channel.close();
      }
      throw e;
    }
    HELD_HERE.remove(key);
    channel.close();
    return null;
  }

  /** Blocking: releases the lock (the file stays). */
  void release() throws IOException {
    try {
      if (lock.isValid()) {
        lock.release();
      }
    } finally {
      channel.close();
      HELD_HERE.remove(key);
    }
  }
}
