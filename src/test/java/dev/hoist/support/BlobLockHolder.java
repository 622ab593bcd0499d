package dev.hoist.support;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;

/**
 * Another process writing a blob into a shared cache, for the tests that Hoist waits for it: run
 * in its own JVM, it takes the OS lock on the blob's lock file, says {@code LOCKED}, waits, then
 * writes the blob (from a source file, through a temporary name and an atomic rename, as a
 * well-behaved cache writer does) and releases the lock.
 *
 * <pre>java -cp test-classes dev.hoist.support.BlobLockHolder LOCK_FILE SOURCE BLOB HOLD_MS</pre>
 */
public final class BlobLockHolder {

  private BlobLockHolder() {
  }

  public static void main(String[] args) throws IOException, InterruptedException {
    Path lockFile = Paths.get(args[0]);
    Path source = Paths.get(args[1]);
    Path blob = Paths.get(args[2]);
    long holdMs = Long.parseLong(args[3]);
    Files.createDirectories(lockFile.getParent());
    try (FileChannel channel = FileChannel.open(lockFile, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
        FileLock lock = channel.lock()) {
      System.out.println("LOCKED");
      System.out.flush();
      Thread.sleep(holdMs);
      Files.createDirectories(blob.getParent());
      Path tmp = blob.resolveSibling(blob.getFileName() + ".incomplete");
      Files.copy(source, tmp, StandardCopyOption.REPLACE_EXISTING);
      Files.move(tmp, blob, StandardCopyOption.ATOMIC_MOVE);
      System.out.println("WRITTEN");
      System.out.flush();
    }
  }
}
