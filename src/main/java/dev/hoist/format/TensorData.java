package dev.hoist.format;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;

/** Streams tensor bytes from a {@link DataSource} into a file through one reused buffer. */
final class TensorData {

  static final int BUFFER_SIZE = 1 << 20;

  private final FileChannel channel;
  private final DataSource source;
  private final ByteBuffer buf = ByteBuffer.allocateDirect(BUFFER_SIZE).order(ByteOrder.LITTLE_ENDIAN);

  TensorData(FileChannel channel, DataSource source) {
    this.channel = channel;
    this.source = source;
  }

  /** Writes all of {@code tensor}'s bytes, asking the source for chunks that are whole {@code unit}s. */
  void write(TensorInfo tensor, int unit) throws IOException {
    int chunk = BUFFER_SIZE / unit * unit;
    for (long position = 0; position < tensor.length(); ) {
      int n = (int) Math.min(chunk, tensor.length() - position);
      buf.clear().limit(n);
      source.fill(tensor, position, buf);
      if (buf.hasRemaining()) {
        throw new IllegalStateException("data source left " + buf.remaining() + " bytes of tensor '"
            + tensor.name() + "' unfilled");
      }
      writeFully(buf.flip());
      position += n;
    }
  }

  /** Writes {@code n} zero bytes. */
  void pad(long n) throws IOException {
    while (n > 0) {
      int k = (int) Math.min(n, BUFFER_SIZE);
      buf.clear();
      for (int i = 0; i < k; i++) {
        buf.put((byte) 0);
      }
      writeFully(buf.flip());
      n -= k;
    }
  }

  void writeFully(ByteBuffer b) throws IOException {
    while (b.hasRemaining()) {
      channel.write(b);
    }
  }
}
