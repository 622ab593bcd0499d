package dev.hoist.download;

import io.netty.buffer.ByteBuf;
import io.netty.util.ReferenceCountUtil;
import io.vertx.core.Context;
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
 * in the next one, so the number of writes falls as the rate rises.
 *
 * <p>Two stages run on workers, each one batch at a time: <b>write</b> (direct buffers — what the lean
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
 * <p>Each stage, once started, goes on to its next batch on its own worker: it does not wait for the
 * event loop between batches. On two cores the event loop is often busy reading (or not running at
 * all) just when a stage finishes, and a trip through it for every batch left the writer and the
 * hasher idle for that long. The event loop hears of finished batches afterwards, several at a time,
 * and does the bookkeeping: releasing buffers, {@code onWritten}, the drain and failure handlers.
 *
 * <p>The sink owns the buffers it is given and releases each once its batch is done (or dropped after
 * a failure, never while a stage still reads it): the lean reader's come from Netty's pool. The queue
 * is bounded: {@link #isFull()} tells the reader to pause, {@link #drainHandler} to resume. Several
 * sinks (one per connection) may write disjoint ranges of the same file at once. The state the
 * stages share with the event loop is guarded by the sink's lock, never held during I/O or hashing.
 */
final class BlobSink {

  /**
   * The queue's bound per connection: the reader pauses at {@code HIGH_WATER} bytes not yet both
   * written and hashed, and goes on below {@code LOW_WATER}. Deep, and with a small gap: on two busy
   * cores a stage or the event loop can be off the CPU for milliseconds, and the other stage needs
   * bytes queued meanwhile; reading again after 8 MiB have drained, not 12 of 16, kept the stages fed
   * (2 GiB from nginx on loopback: 9 % faster than 16/4 MiB, 7 of 8 rounds in either order). The price
   * is up to 32 MiB of direct memory per connection (plus one read burst, at most 4 MiB) while the disk
   * is slower than the network.
   */
  private static final long HIGH_WATER = 32L << 20;
  private static final long LOW_WATER = 24L << 20;
  private static final int STAGING = 1 << 20;
  /**
   * How long one worker task of a stage goes on before it hands over to a fresh task: a steady
   * download keeps a stage busy for minutes, and Vert.x reports a worker task that long as blocked.
   */
  private static final long STAGE_TASK_NANOS = 500_000_000L;
  /** Per worker thread: where a batch is gathered for one write system call per MiB. */
  private static final ThreadLocal<ByteBuffer> STAGING_BUFFER = ThreadLocal.withInitial(() -> ByteBuffer.allocateDirect(STAGING));

  private final Context owner;
  private final FileChannel channel;
  private final PrefixHasher hasher;
  private final LongConsumer onWritten;

  // Guarded by this: shared by the event loop and the two stages.
  /** Where the next batch goes. */
  private long nextAt;
  private List<ByteBuf> pending = new ArrayList<>();
  /** Batches not yet both written and hashed, in file order. */
  private final ArrayDeque<Batch> batches = new ArrayDeque<>();
  private boolean writerRunning;
  private boolean hasherRunning;
  private boolean settleScheduled;
  private Throwable failure;

  // The event loop's own.
  private long queued;
  private boolean failureReported;
  private Runnable drainHandler;
  private java.util.function.Consumer<Throwable> failureHandler = err -> { };
  private Promise<Void> flushed;

  /** Created on the event loop that owns it: everything but the two stages runs there. */
  BlobSink(Vertx vertx, FileChannel channel, long position, PrefixHasher hasher, LongConsumer onWritten) {
    this.owner = vertx.getOrCreateContext();
    this.channel = channel;
    this.nextAt = position;
    this.hasher = hasher;
    this.onWritten = onWritten;
  }

  /** Queues {@code buffer}'s readable bytes; the sink releases it. */
  void write(ByteBuf buffer) {
    boolean start;
    synchronized (this) {
      if (failure != null || flushed != null) {
        start = false;
        buffer.release();
      } else {
        pending.add(buffer);
        queued += buffer.readableBytes();
        start = !writerRunning;
        writerRunning |= start;
      }
    }
    if (start) {
      startWriter();
    }
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
    settle();
    return flushed.future();
  }

  // ------------------------------------------------------------------ the stages (workers)

  private void startWriter() {
    owner.executeBlocking(() -> guarded(this::writeStage, () -> {
      writerRunning = false;
      batches.forEach(b -> b.writing = false);
    }), false);
  }

  private void startHasher() {
    owner.executeBlocking(() -> guarded(this::hashStage, () -> {
      hasherRunning = false;
      batches.forEach(b -> b.hashing = false);
    }), false);
  }

  /**
   * Runs a stage; should it throw outside the I/O it expects to fail (a bug), the transfer fails and
   * the stage lets go of its batch (under the lock, {@code letGo}), rather than leave a flush waiting forever.
   */
  private Void guarded(java.util.concurrent.Callable<Void> stage, Runnable letGo) {
    try {
      return stage.call();
    } catch (Throwable e) {
      synchronized (this) {
        fail(e);
        letGo.run();
      }
      scheduleSettle();
      return null;
    }
  }

  /** Worker: writes batch after batch, each made of everything queued when it starts, until none is left. */
  private Void writeStage() {
    long began = System.nanoTime();
    while (true) {
      Batch batch;
      synchronized (this) {
        if (failure != null || pending.isEmpty()) {
          writerRunning = false;
          break;
        }
        if (System.nanoTime() - began > STAGE_TASK_NANOS) {
          startWriter(); // still running: a fresh task goes on
          break;
        }
        batch = new Batch(nextAt, pending);
        pending = new ArrayList<>();
        nextAt += batch.length;
        batches.add(batch);
        batch.writing = true;
        startHasherIfIdle(); // it may hash this batch while it is being written
      }
      Throwable error = null;
      try {
        writeBatch(batch);
      } catch (Throwable e) {
        error = e;
      }
      synchronized (this) {
        batch.writing = false;
        if (error != null) {
          fail(error);
        } else {
          batch.written = true;
          startHasherIfIdle(); // a batch that could not be hashed early waited for this
        }
      }
      scheduleSettle();
    }
    scheduleSettle();
    return null;
  }

  /** Worker: hashes the batches in file order, from memory while they are written if it can. */
  private Void hashStage() {
    long began = System.nanoTime();
    while (true) {
      Batch next;
      boolean early;
      synchronized (this) {
        next = failure == null ? hashable() : null;
        if (next == null) {
          hasherRunning = false;
          break;
        }
        if (System.nanoTime() - began > STAGE_TASK_NANOS) {
          startHasher();
          break;
        }
        early = !next.written;
        next.hashing = true;
      }
      Throwable error = null;
      boolean hashed = false;
      try {
        hashed = early ? hasher.hashIfNext(next.at, next.views) : hasher.written(next.at, next.views);
      } catch (Throwable e) {
        error = e;
      }
      synchronized (this) {
        next.hashing = false;
        if (error != null) {
          fail(error);
        } else if (hashed) {
          next.hashed = true;
        } else {
          next.triedEarly = true;
        }
      }
      scheduleSettle();
    }
    scheduleSettle();
    return null;
  }

  /** Under the lock: starts the hash stage if it is idle and has something to do. */
  private void startHasherIfIdle() {
    if (!hasherRunning && failure == null && hashable() != null) {
      hasherRunning = true;
      startHasher();
    }
  }

  /**
   * Under the lock: the first batch, in file order, not yet hashed, if the hasher may take it now (it
   * is on disk, or it was not yet tried from memory). A loop, not a stream: called for every batch.
   */
  private Batch hashable() {
    for (Batch b : batches) {
      if (!b.hashed) {
        return b.written || !b.triedEarly ? b : null;
      }
    }
    return null;
  }

  /** Under the lock: the first failure wins; nothing more is queued or will drain. */
  private void fail(Throwable cause) {
    if (failure == null) {
      failure = cause;
    }
  }

  /** Tells the event loop that batches moved on: once, however many stages finish before it runs. */
  private void scheduleSettle() {
    synchronized (this) {
      if (settleScheduled) {
        return;
      }
      settleScheduled = true;
    }
    owner.runOnContext(v -> settle());
  }

  // ------------------------------------------------------------------ bookkeeping (event loop)

  /** Releases what is done (or dropped after a failure), reports it, and answers the handlers and the flush. */
  private void settle() {
    List<Batch> done = new ArrayList<>();
    List<ByteBuf> dropped = new ArrayList<>();
    Throwable failed;
    boolean idle;
    synchronized (this) {
      settleScheduled = false;
      failed = failure;
      if (failed == null) {
        while (!batches.isEmpty() && batches.peek().written && batches.peek().hashed) {
          done.add(batches.poll());
        }
      } else {
        dropped.addAll(pending);
        pending.clear();
        batches.removeIf(b -> {
          if (b.writing || b.hashing) {
            return false; // released once its stage lets go of it
          }
          dropped.addAll(b.buffers);
          return true;
        });
      }
      idle = !writerRunning && !hasherRunning && pending.isEmpty() && batches.isEmpty();
    }
    release(dropped);
    if (failed != null) {
      if (!failureReported) {
        failureReported = true;
        // Nothing more will drain: a paused reader must not wait for a drain that never comes.
        queued = 0;
        drainHandler = null;
        failureHandler.accept(failed);
      }
    } else if (!done.isEmpty()) {
      for (Batch b : done) {
        release(b.buffers);
        queued -= b.length;
        onWritten.accept(b.length);
      }
      if (queued < LOW_WATER && drainHandler != null) {
        Runnable handler = drainHandler;
        drainHandler = null;
        handler.run();
      }
    }
    if (flushed != null && idle) {
      if (failed != null) {
        flushed.tryFail(failed);
      } else {
        flushed.tryComplete();
      }
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

  /** Releases each buffer; one released already (a caller's bug) is logged by Netty, not thrown into the bookkeeping. */
  private static void release(List<ByteBuf> buffers) {
    for (ByteBuf b : buffers) {
      ReferenceCountUtil.safeRelease(b);
    }
  }

  /** One batch: where it starts, its bytes in order (views of {@code buffers}), how many, and how far it got. */
  private static final class Batch {
    final long at;
    final List<ByteBuffer> views = new ArrayList<>();
    final List<ByteBuf> buffers;
    final long length;
    // Guarded by the sink's lock.
    boolean written;
    boolean hashed;
    /** The hasher could not take it before it was on disk (it does not continue the hashed prefix). */
    boolean triedEarly;
    /** A stage is reading its buffers: they must not be released. */
    boolean writing;
    boolean hashing;

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
