package dev.hoist.download;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Hashes a file that is written in pieces, possibly out of order, without a second full read: a
 * hash must see the bytes in order, so bytes written right at the end of the hashed prefix are
 * hashed from memory as they are written, and bytes written further on are remembered as ranges and
 * read back from the file once the prefix reaches them. A single stream is therefore hashed
 * entirely from memory; a ranged download reads back only what arrived ahead of the prefix (from
 * the page cache, usually).
 *
 * <p>Called from worker threads (the writers of several connections at once): every method is
 * synchronized. Never call it on an event loop: {@link #written} may read from disk.
 */
final class PrefixHasher {

  private static final int READ_BUFFER = 1 << 20;

  private final RemoteFile file;
  private final FileChannel channel;
  private final MessageDigest digest;
  /** Written but not yet hashed: start → end. Disjoint, all beyond {@link #hashed}. */
  private final TreeMap<Long, Long> ahead = new TreeMap<>();
  private long hashed;
  private long readBack;

  PrefixHasher(RemoteFile file, FileChannel channel) {
    this.file = file;
    this.channel = channel;
    this.digest = newDigest(file);
  }

  /** Records bytes already on disk from an earlier run; hashed (read back) once the prefix reaches them. */
  synchronized void alreadyWritten(long start, long end) throws IOException {
    if (end > start) {
      addAhead(start, end);
      catchUp();
    }
  }

  /** Records {@code bytes} just written at {@code position}. */
  synchronized void written(long position, ByteBuffer bytes) throws IOException {
    int length = bytes.remaining();
    if (length == 0) {
      return;
    }
    if (position == hashed) {
      digest.update(bytes.duplicate());
      hashed += length;
      catchUp();
    } else if (position > hashed) {
      addAhead(position, position + length);
    } else {
      throw new IllegalStateException("bytes at " + position + " written again after they were hashed (prefix " + hashed + ")");
    }
  }

  /** Records the buffers {@code views}, written one after the other from {@code position}, under one lock; true. */
  synchronized boolean written(long position, List<ByteBuffer> views) throws IOException {
    long at = position;
    for (ByteBuffer v : views) {
      int n = v.remaining();
      written(at, v);
      at += n;
    }
    return true;
  }

  /**
   * Hashes {@code views} (bytes from {@code position} on, in order) from memory if they continue the
   * hashed prefix, whether or not they are on disk yet; otherwise records nothing and answers false,
   * and the caller reports them with {@link #written} once they are on disk (only bytes on disk may
   * be recorded as ahead: they may be read back).
   */
  synchronized boolean hashIfNext(long position, List<ByteBuffer> views) throws IOException {
    if (position != hashed) {
      return false;
    }
    for (ByteBuffer v : views) {
      hashed += v.remaining();
      digest.update(v.duplicate());
    }
    catchUp();
    return true;
  }

  /** Length of the hashed prefix. */
  synchronized long hashed() {
    return hashed;
  }

  /** Bytes that had to be read back from disk so far (for tests and logs). */
  synchronized long readBack() {
    return readBack;
  }

  /** The hex digest, once the whole file is hashed: sha256 for LFS files, the git blob id for others. */
  synchronized String finish() throws IOException {
    catchUp();
    if (hashed != file.size) {
      throw new IllegalStateException("only " + hashed + " of " + file.size + " bytes of " + file.path + " could be hashed");
    }
    return HexFormat.of().formatHex(digest.digest());
  }

  private void addAhead(long start, long end) {
    Map.Entry<Long, Long> before = ahead.floorEntry(start);
    if (before != null && before.getValue() == start) { // extends a range: keep the map small
      ahead.put(before.getKey(), end);
    } else {
      ahead.put(start, end);
    }
    Long next = ahead.get(end);
    if (next != null) {
      Map.Entry<Long, Long> merged = ahead.floorEntry(start);
      ahead.remove(end);
      ahead.put(merged.getKey(), next);
    }
  }

  private void catchUp() throws IOException {
    ByteBuffer buffer = null;
    Map.Entry<Long, Long> next;
    while ((next = ahead.firstEntry()) != null && next.getKey() <= hashed) {
      ahead.pollFirstEntry();
      long end = next.getValue();
      while (hashed < end) {
        if (buffer == null) {
          buffer = ByteBuffer.allocate(READ_BUFFER);
        }
        buffer.clear().limit((int) Math.min(READ_BUFFER, end - hashed));
        int n = channel.read(buffer, hashed);
        if (n <= 0) {
          throw new IOException("the partial file of " + file.path + " ends at " + hashed + " bytes, before " + end);
        }
        buffer.flip();
        digest.update(buffer);
        hashed += n;
        readBack += n;
      }
    }
  }

  private static MessageDigest newDigest(RemoteFile f) {
    try {
      MessageDigest digest = MessageDigest.getInstance(f.isLfs() ? "SHA-256" : "SHA-1");
      if (!f.isLfs()) {
        // A git blob id is the sha1 of "blob <size>\0" followed by the content.
        digest.update(("blob " + f.size + "\0").getBytes(StandardCharsets.US_ASCII));
      }
      return digest;
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }
}
