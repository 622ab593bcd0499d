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
 * JDK would make anyway), then <b>hash</b>
 * (the same batch handed to the file's {@link PrefixHasher}, which hashes it from the received
 * buffers' memory when it continues the hashed prefix). A batch is hashed only once it is on disk,
 * as before, but the next batch's write runs while the previous one is hashed, so writing and hashing
 * overlap instead of adding up. A batch counts as written ({@code onWritten}, and for the queue
 * bound) once it is hashed.
 *
 * <p>The sink owns the buffers it is given and releases each once it is hashed (or dropped after a
 * failure): the lean reader's come from Netty's pool. The queue is bounded: {@link #isFull()} tells the reader to pause, {@link #drainHandler} to
 * resume. Several sinks (one per connection) may write disjoint ranges of the same file at once.
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
  /** Where the next byte goes; touched only by the (one at a time) write stage. */
  private long position;
  private List<ByteBuf> pending = new ArrayList<>();
  /** Written, waiting for the hash stage, in order. */
  private final ArrayDeque<Batch> toHash = new ArrayDeque<>();
  private long queued;
  private boolean writing;
  private boolean hashing;
  private Throwable failure;
  private Runnable drainHandler;
  private java.util.function.Consumer<Throwable> failureHandler = err -> { };
  private Promise<Void> flushed;

  BlobSink(Vertx vertx, FileChannel channel, long position, PrefixHasher hasher, LongConsumer onWritten) {
    this.vertx = vertx;
    this.channel = channel;
    this.position = position;
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
      Batch dropped;
      while ((dropped = toHash.poll()) != null) {
        release(dropped.buffers);
      }
    }
    if (!writing && failure == null && !pending.isEmpty()) {
      writing = true;
      List<ByteBuf> buffers = pending;
      pending = new ArrayList<>();
      vertx.executeBlocking(() -> writeBatch(buffers), false).onComplete(ar -> {
        writing = false;
        if (ar.failed()) {
          release(buffers);
          fail(ar.cause());
        } else {
          toHash.add(ar.result());
        }
        kick();
      });
    }
    if (!hashing && failure == null && !toHash.isEmpty()) {
      hashing = true;
      Batch batch = toHash.poll();
      vertx.executeBlocking(() -> {
        hasher.written(batch.at, batch.views);
        return batch.length;
      }, false).onComplete(ar -> {
        hashing = false;
        release(batch.buffers);
        if (ar.failed()) {
          fail(ar.cause());
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
    if (flushed != null && !writing && !hashing && (failure != null || (pending.isEmpty() && toHash.isEmpty()))) {
      if (failure != null) {
        flushed.tryFail(failure);
      } else {
        flushed.tryComplete();
      }
    }
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

  /** Worker: writes a batch at {@link #position}; its memory views (not copies) go on to the hash stage. */
  private Batch writeBatch(List<ByteBuf> buffers) throws IOException {
    List<ByteBuffer> views = new ArrayList<>(buffers.size() + 4);
    for (ByteBuf b : buffers) {
      if (b.nioBufferCount() == 1) {
        views.add(b.nioBuffer());
      } else {
        for (ByteBuffer v : b.nioBuffers()) {
          views.add(v);
        }
      }
    }
    long at = position;
    ByteBuffer staging = STAGING_BUFFER.get();
    staging.clear();
    long length = 0;
    for (ByteBuffer view : views) {
      ByteBuffer src = view.duplicate();
      length += src.remaining();
      if (src.isDirect()) { // written from where it is: no copy
        drain(staging);
        while (src.hasRemaining()) {
          position += channel.write(src, position);
        }
        continue;
      }
      while (src.hasRemaining()) {
        if (!staging.hasRemaining()) {
          drain(staging);
        }
        int n = Math.min(src.remaining(), staging.remaining());
        int limit = src.limit();
        src.limit(src.position() + n);
        staging.put(src);
        src.limit(limit);
      }
    }
    drain(staging);
    return new Batch(at, views, buffers, length);
  }

  /** Writes the staging buffer at {@link #position} and empties it. */
  private void drain(ByteBuffer staging) throws IOException {
    staging.flip();
    while (staging.hasRemaining()) {
      position += channel.write(staging, position);
    }
    staging.clear();
  }

  private static void release(List<ByteBuf> buffers) {
    for (ByteBuf b : buffers) {
      b.release();
    }
  }

  /** One batch on disk: where it starts, its bytes in order (views of {@code buffers}), how many. */
  private static final class Batch {
    final long at;
    final List<ByteBuffer> views;
    final List<ByteBuf> buffers;
    final long length;

    Batch(long at, List<ByteBuffer> views, List<ByteBuf> buffers, long length) {
      this.at = at;
      this.views = views;
      this.buffers = buffers;
      this.length = length;
    }
  }
}
