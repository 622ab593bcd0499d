package dev.hoist.download;

import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.util.ArrayList;
import java.util.List;
import java.util.function.LongConsumer;

/**
 * Writes one response body into a partial blob file from a given position, on a worker thread: the
 * event loop only queues buffers. Buffers that arrive while a write is under way are written together
 * in the next one, so the number of thread hops falls as the rate rises. Every write is handed to the
 * file's {@link PrefixHasher}, which hashes it from memory when it continues the hashed prefix. The
 * queue is bounded: {@link #isFull()} tells the reader to pause, {@link #drainHandler} to resume.
 * Several sinks (one per connection) may write disjoint ranges of the same file at once.
 */
final class BlobSink {

  private static final long HIGH_WATER = 4L << 20;
  private static final long LOW_WATER = 1L << 20;

  private final Vertx vertx;
  private final FileChannel channel;
  private final PrefixHasher hasher;
  private final LongConsumer onWritten;
  /** Where the next byte goes; touched only by the (one at a time) write task. */
  private long position;
  private List<Buffer> pending = new ArrayList<>();
  private long queued;
  private boolean writing;
  private Throwable failure;
  private Runnable drainHandler;
  private Promise<Void> flushed;

  BlobSink(Vertx vertx, FileChannel channel, long position, PrefixHasher hasher, LongConsumer onWritten) {
    this.vertx = vertx;
    this.channel = channel;
    this.position = position;
    this.hasher = hasher;
    this.onWritten = onWritten;
  }

  void write(Buffer buffer) {
    if (failure != null || flushed != null) {
      return;
    }
    pending.add(buffer);
    queued += buffer.length();
    kick();
  }

  boolean isFull() {
    return queued >= HIGH_WATER;
  }

  void drainHandler(Runnable handler) {
    this.drainHandler = handler;
  }

  /** Completes once everything queued is on disk (or fails with the first write error); accepts no more. */
  Future<Void> flush() {
    if (flushed == null) {
      flushed = Promise.promise();
    }
    kick();
    return flushed.future();
  }

  private void kick() {
    if (writing) {
      return;
    }
    if (failure != null || pending.isEmpty()) {
      if (flushed != null) {
        if (failure != null) {
          flushed.tryFail(failure);
        } else {
          flushed.tryComplete();
        }
      }
      return;
    }
    writing = true;
    List<Buffer> batch = pending;
    pending = new ArrayList<>();
    vertx.executeBlocking(() -> writeBatch(batch), false).onComplete(ar -> {
      writing = false;
      if (ar.failed()) {
        failure = ar.cause();
        pending.clear();
      } else {
        queued -= ar.result();
        onWritten.accept(ar.result());
      }
      if (queued < LOW_WATER && drainHandler != null) {
        Runnable handler = drainHandler;
        drainHandler = null;
        handler.run();
      }
      kick();
    });
  }

  private long writeBatch(List<Buffer> batch) throws IOException {
    long total = 0;
    for (Buffer b : batch) {
      ByteBuffer bytes = ByteBuffer.wrap(b.getBytes());
      ByteBuffer toHash = bytes.duplicate();
      long at = position;
      while (bytes.hasRemaining()) {
        position += channel.write(bytes, position);
      }
      hasher.written(at, toHash);
      total += toHash.remaining();
    }
    return total;
  }
}
