package dev.hoist.download;

import static dev.hoist.download.DownloadHarness.sha256;
import static dev.hoist.support.TestSupport.await;
import static dev.hoist.support.TestSupport.waitUntil;
import static org.assertj.core.api.Assertions.assertThat;

import io.netty.buffer.Unpooled;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.ReadableByteChannel;
import java.nio.channels.WritableByteChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.Random;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The sink alone, on a real file whose writes the test can hold back. */
class BlobSinkTest {

  @TempDir
  Path dir;
  private final Vertx vertx = Vertx.vertx();

  @AfterEach
  void tearDown() {
    await(vertx.close());
  }

  @Test
  void bytesThatContinueTheHashedPrefixAreHashedWhileTheirWriteIsStillUnderWay() throws Exception {
    byte[] data = new byte[256 << 10];
    new Random(7).nextBytes(data);
    try (HeldWrites file = heldFile()) {
      PrefixHasher hasher = hasherOf(data, data.length, file);
      AtomicLong written = new AtomicLong();
      Context loop = vertx.getOrCreateContext();
      Promise<Void> flushed = Promise.promise();
      loop.runOnContext(v -> {
        BlobSink sink = new BlobSink(vertx, file, 0, hasher, written::addAndGet);
        sink.write(Unpooled.directBuffer(data.length).writeBytes(data));
        sink.flush().onComplete(flushed);
      });

      // The write is held: the hash still gets every byte, from memory.
      waitUntil(Duration.ofSeconds(10), () -> hasher.hashed() == data.length);
      assertThat(file.bytesWritten.get()).isZero();
      assertThat(written.get()).as("counts as written only once on disk too").isZero();

      file.release.countDown();
      await(flushed.future());
      assertThat(written.get()).isEqualTo(data.length);
      assertThat(hasher.finish()).isEqualTo(sha256(data));
      assertThat(hasher.readBack()).isZero();
      assertThat(Files.readAllBytes(dir.resolve("f"))).isEqualTo(data);
    }
  }

  @Test
  void theStagesGoOnToTheNextBatchWithoutWaitingForTheEventLoop() throws Exception {
    byte[] data = new byte[3 * (256 << 10)];
    new Random(11).nextBytes(data);
    int third = data.length / 3;
    try (HeldWrites file = heldFile()) {
      PrefixHasher hasher = hasherOf(data, data.length, file);
      AtomicLong written = new AtomicLong();
      Context loop = vertx.getOrCreateContext();
      Promise<Void> flushed = Promise.promise();
      AtomicReference<BlobSink> sink = new AtomicReference<>();
      loop.runOnContext(v -> {
        sink.set(new BlobSink(vertx, file, 0, hasher, written::addAndGet));
        sink.get().write(Unpooled.directBuffer(third).writeBytes(data, 0, third));
      });
      assertThat(file.entered.await(10, TimeUnit.SECONDS)).as("the first batch's write began (and is held)").isTrue();
      CountDownLatch queued = new CountDownLatch(1);
      loop.runOnContext(v -> { // these two make the next batch
        sink.get().write(Unpooled.directBuffer(third).writeBytes(data, third, third));
        sink.get().write(Unpooled.directBuffer(third).writeBytes(data, 2 * third, third));
        sink.get().flush().onComplete(flushed);
        queued.countDown();
      });
      assertThat(queued.await(10, TimeUnit.SECONDS)).isTrue();

      // The event loop is busy (under the 2 s after which Vert.x would call it blocked) while the held
      // write ends: the writer and the hasher must go on to the next batch by themselves.
      CountDownLatch loopFree = new CountDownLatch(1);
      loop.runOnContext(v -> {
        try {
          loopFree.await(1500, TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      });
      file.release.countDown();
      try {
        waitUntil(Duration.ofMillis(1200), () -> file.bytesWritten.get() == data.length && hasher.hashed() == data.length);
        assertThat(written.get()).as("the bookkeeping is the event loop's: it waits").isZero();
      } finally {
        loopFree.countDown();
      }

      await(flushed.future());
      assertThat(written.get()).isEqualTo(data.length);
      assertThat(hasher.finish()).isEqualTo(sha256(data));
      assertThat(Files.readAllBytes(dir.resolve("f"))).isEqualTo(data);
    }
  }

  @Test
  void aStageThatBreaksOutsideItsIoFailsTheFlushInsteadOfLeavingItWaiting() throws Exception {
    byte[] data = new byte[64 << 10];
    try (HeldWrites file = heldFile()) {
      PrefixHasher hasher = hasherOf(data, 2L * data.length, file);
      Context loop = vertx.getOrCreateContext();
      Promise<Void> flushed = Promise.promise();
      AtomicReference<BlobSink> sink = new AtomicReference<>();
      loop.runOnContext(v -> {
        sink.set(new BlobSink(vertx, file, 0, hasher, n -> { }));
        sink.get().write(Unpooled.directBuffer(data.length).writeBytes(data));
      });
      assertThat(file.entered.await(10, TimeUnit.SECONDS)).isTrue();
      loop.runOnContext(v -> {
        // A caller's bug: a buffer released after it was handed over. The writer meets it when it
        // makes the next batch, outside the write it expects to fail.
        io.netty.buffer.ByteBuf broken = Unpooled.directBuffer(data.length).writeBytes(data);
        sink.get().write(broken);
        broken.release();
        sink.get().flush().onComplete(flushed);
      });
      file.release.countDown();
      Throwable error = flushed.future().transform(ar -> Future.succeededFuture(ar.cause()))
          .toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS); // waits forever without the guard
      assertThat(error).as("the flush fails").isNotNull();
    }
  }

  /** The test's file, its writes held until the test releases them. */
  private HeldWrites heldFile() throws IOException {
    return new HeldWrites(FileChannel.open(dir.resolve("f"), StandardOpenOption.CREATE, StandardOpenOption.READ,
        StandardOpenOption.WRITE));
  }

  /** A hasher for an LFS file of {@code size} bytes whose expected sha256 is that of {@code data}. */
  private static PrefixHasher hasherOf(byte[] data, long size, FileChannel file) throws Exception {
    return new PrefixHasher(new RemoteFile("model.safetensors", size, "0".repeat(40), sha256(data)), file);
  }

  /** A file channel whose positional writes wait until {@link #release}. */
  private static final class HeldWrites extends FileChannel {
    final CountDownLatch release = new CountDownLatch(1);
    final CountDownLatch entered = new CountDownLatch(1);
    final AtomicLong bytesWritten = new AtomicLong();
    private final FileChannel file;

    HeldWrites(FileChannel file) {
      this.file = file;
    }

    @Override
    public int write(ByteBuffer src, long position) throws IOException {
      entered.countDown();
      try {
        if (!release.await(30, TimeUnit.SECONDS)) {
          throw new IOException("the test never released the write");
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IOException(e);
      }
      int n = file.write(src, position);
      bytesWritten.addAndGet(n);
      return n;
    }

    @Override
    public int read(ByteBuffer dst, long position) throws IOException {
      return file.read(dst, position);
    }

    @Override
    public int read(ByteBuffer dst) throws IOException {
      return file.read(dst);
    }

    @Override
    public long read(ByteBuffer[] dsts, int offset, int length) throws IOException {
      return file.read(dsts, offset, length);
    }

    @Override
    public int write(ByteBuffer src) {
      throw new UnsupportedOperationException("the sink writes at positions");
    }

    @Override
    public long write(ByteBuffer[] srcs, int offset, int length) {
      throw new UnsupportedOperationException("the sink writes at positions");
    }

    @Override
    public long position() throws IOException {
      return file.position();
    }

    @Override
    public FileChannel position(long newPosition) throws IOException {
      file.position(newPosition);
      return this;
    }

    @Override
    public long size() throws IOException {
      return file.size();
    }

    @Override
    public FileChannel truncate(long size) throws IOException {
      file.truncate(size);
      return this;
    }

    @Override
    public void force(boolean metaData) throws IOException {
      file.force(metaData);
    }

    @Override
    public long transferTo(long position, long count, WritableByteChannel target) throws IOException {
      return file.transferTo(position, count, target);
    }

    @Override
    public long transferFrom(ReadableByteChannel src, long position, long count) {
      throw new UnsupportedOperationException("the sink writes at positions");
    }

    @Override
    public MappedByteBuffer map(MapMode mode, long position, long size) throws IOException {
      return file.map(mode, position, size);
    }

    @Override
    public FileLock lock(long position, long size, boolean shared) throws IOException {
      return file.lock(position, size, shared);
    }

    @Override
    public FileLock tryLock(long position, long size, boolean shared) throws IOException {
      return file.tryLock(position, size, shared);
    }

    @Override
    protected void implCloseChannel() throws IOException {
      release.countDown();
      file.close();
    }
  }
}
