package dev.hoist.download;

import io.netty.buffer.ByteBuf;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.function.LongConsumer;

/**
 * Writes one response body into a partial blob file from a given position, on worker threads: the
 * event loop only queues buffers. Buffers that arrive while a write is under way are written together
 * in the next one, so the number of thread hops falls as the rate rises.
 *
 * <p>Two stages, each one task at a time, run on workers: <b>write</b> (direct buffers — what the lean
 * reader, {@link DirectGet}, hands over — are written as they are; heap buffers from the HTTP client are
 * gathered into a per-thread direct buffer and written with one positional write per MiB, the copy the
 * JDK would make anyway) and <b>hash</b> (the batch handed to the file's {@link PrefixHasher}, in file
 * order). A batch that continues the hashed prefix is hashed from the received buffers' memory
 * <em>while</em> it is being written; any other batch is handed over only once it is on disk, because
 * the hasher may read it back from the file later. Hashing ahead of the disk is safe: a failed write
 * fails the transfer, and a later attempt starts from a fresh hasher and the bytes on disk. A batch
 * counts as written ({@code onWritten}, which moves the resume point, and for the queue bound) once it
 * is both on disk and hashed, in order.
 *
 * <p>The sink owns the buffers it is given and releases each once its batch is done (or dropped after
 * a failure, never while a task still reads it): the lean reader's come from Netty's pool. The queue
 * is bounded: {@link #isFull()} tells the reader to pause, {@link #drainHandler} to resume. Several
 * sinks (one per connection) may write disjoint ranges of the same file at once.
 * Everything but the two stages' bodies runs on the event loop that owns the sink.
 */
final class BlobSink {

  private static final long HIGH_WATER = 16L << 20;
  private static final long LOW_WATER = 4L << 20;
  private static final int STAGING = 1 << 20;
  /** Per worker thread: where a batch is gathered for one write system call per MiB. */
  private static final ThreadLocal<ByteBuffer> STAGING_BUFFER = ThreadLocal.withInitial(() -> ByteBuffer.allocateDirect(STAGING));

  private final Vertx vertx;
  private final FileChannel channel;
  private final PrefixHasher hasher;
  private final LongConsumer onWritten;
  /** Where the next batch goes (event loop). */
  private long nextAt;
  private List<ByteBuf> pending = new ArrayList<>();
  /** Batches not yet both written and hashed, in file order. */
  private final ArrayDeque<Batch> batches = new ArrayDeque<>();
  private long queued;
  /** The batches a write or hash task is working on (their buffers must not be released meanwhile). */
  private Batch writing;
  private Batch hashing;
  private Throwable failure;
  private Runnable drainHandler;
  private java.util.function.Consumer<Throwable> failureHandler = err -> { };
  private Promise<Void> flushed;

  BlobSink(Vertx vertx, FileChannel channel, long position, PrefixHasher hasher, LongConsumer onWritten) {
    this.vertx = vertx;
    this.channel = channel;
    this.nextAt = position;
    this.hasher = hasher;
    this.onWritten = onWritten;
  }

  /** Queues {@code buffer}'s readable bytes; the sink releases it. */
  void write(ByteBuf buffer) {
    if (failure != null || flushed != null) {
      buffer.release();
      return;
    }
    pending.add(buffer);
    queued += buffer.readableBytes();
    kick();
  }

  boolean isFull() {
    return queued >= HIGH_WATER;
  }

  void drainHandler(Runnable handler) {
    this.drainHandler = handler;
  }

  /**
   * Called once, on the owner's event loop, when a write or hash fails (a full disk): the reader
   * should stop at once rather than go on receiving bytes that can no longer be written.
   */
  void failureHandler(java.util.function.Consumer<Throwable> handler) {
    this.failureHandler = handler;
  }

  /** Completes once everything queued is on disk and hashed (or fails with the first error); accepts no more. */
  Future<Void> flush() {
    if (flushed == null) {
      flushed = Promise.promise();
    }
    kick();
    return flushed.future();
  }

  private void kick() {
    if (failure != null) {
      release(pending);
      pending.clear();
      batches.removeIf(b -> {
        if (b == writing || b == hashing) {
          return false; // released when its task ends
        }
        release(b.buffers);
        return true;
      });
    }
    if (writing == null && failure == null && !pending.isEmpty()) {
      Batch batch = new Batch(nextAt, pending);
      pending = new ArrayList<>();
      nextAt += batch.length;
      batches.add(batch);
      writing = batch;
      vertx.executeBlocking(() -> writeBatch(batch), false).onComplete(ar -> {
        writing = null;
        if (ar.failed()) {
          fail(ar.cause());
        } else {
          batch.written = true;
        }
        kick();
      });
    }
    if (hashing == null && failure == null) {
      Batch next = firstNotHashed();
      // In file order: a batch that continues the hashed prefix is hashed while it is being written
      // (from the same memory); any other waits until it is on disk, as the hasher may read it back.
      if (next != null && (next.written || !next.triedEarly)) {
        hashing = next;
        boolean early = !next.written;
        vertx.executeBlocking(() -> early ? hasher.hashIfNext(next.at, next.views) : hasher.written(next.at, next.views), false)
            .onComplete(ar -> {
              hashing = null;
              if (ar.failed()) {
                fail(ar.cause());
              } else if (ar.result()) {
                next.hashed = true;
              } else {
                next.triedEarly = true;
              }
              kick();
            });
      }
    }
    boolean freed = false;
    while (failure == null && !batches.isEmpty() && batches.peek().written && batches.peek().hashed) {
      Batch done = batches.poll();
      release(done.buffers);
      queued -= done.length;
      onWritten.accept(done.length);
      freed = true;
    }
    if (freed && queued < LOW_WATER && drainHandler != null) {
      Runnable handler = drainHandler;
      drainHandler = null;
      handler.run();
    }
    if (flushed != null && writing == null && hashing == null
        && (failure != null || (pending.isEmpty() && batches.isEmpty()))) {
      if (failure != null) {
        flushed.tryFail(failure);
      } else {
        flushed.tryComplete();
      }
    }
  }

  /** The first batch, in file order, not yet hashed (kicked for every buffer received: a loop, not a stream). */
  private Batch firstNotHashed() {
    for (Batch b : batches) {
      if (!b.hashed) {
        return b;
      }
    }
    return null;
  }

  private void fail(Throwable cause) {
    if (failure == null) {
      failure = cause;
      // Nothing more is queued or will drain: a paused reader must not wait for a drain that never comes.
      queued = 0;
      drainHandler = null;
      failureHandler.accept(cause);
    }
  }

  /** Worker: writes a batch at its place, direct buffers where they are, heap ones gathered per MiB. */
  private Void writeBatch(Batch batch) throws IOException {
    long[] position = {batch.at};
    ByteBuffer staging = STAGING_BUFFER.get();
    staging.clear();
    for (ByteBuffer view : batch.views) {
      ByteBuffer src = view.duplicate();
      if (src.isDirect()) { // written from where it is: no copy
        drain(staging, position);
        while (src.hasRemaining()) {
          position[0] += channel.write(src, position[0]);
        }
        continue;
      }
      while (src.hasRemaining()) {
        if (!staging.hasRemaining()) {
          drain(staging, position);
        }
        int n = Math.min(src.remaining(), staging.remaining());
        int limit = src.limit();
        src.limit(src.position() + n);
        staging.put(src);
        src.limit(limit);
      }
    }
    drain(staging, position);
    return null;
  }

  /** Writes the staging buffer at {@code position[0]} (advancing it) and empties it. */
  private void drain(ByteBuffer staging, long[] position) throws IOException {
    staging.flip();
    while (staging.hasRemaining()) {
      position[0] += channel.write(staging, position[0]);
    }
    staging.clear();
  }

  private static void release(List<ByteBuf> buffers) {
    for (ByteBuf b : buffers) {
      b.release();
    }
  }

  /** One batch: where it starts, its bytes in order (views of {@code buffers}), how many, and how far it got. */
  private static final class Batch {
    final long at;
    final List<ByteBuffer> views = new ArrayList<>();
    final List<ByteBuf> buffers;
    final long length;
    boolean written;
    boolean hashed;
    /** The hasher could not take it before it was on disk (it does not continue the hashed prefix). */
    boolean triedEarly;

    Batch(long at, List<ByteBuf> buffers) {
      this.at = at;
      this.buffers = buffers;
      long n = 0;
      for (ByteBuf b : buffers) {
        n += b.readableBytes();
        if (b.nioBufferCount() == 1) {
          views.add(b.nioBuffer());
        } else {
          for (ByteBuffer v : b.nioBuffers()) {
            views.add(v);
          }
        }
      }
      this.length = n;
    }
  }
}
