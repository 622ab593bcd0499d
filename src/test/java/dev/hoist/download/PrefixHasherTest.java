package dev.hoist.download;

import static dev.hoist.download.DownloadHarness.gitSha1;
import static dev.hoist.download.DownloadHarness.sha256;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Hashing pieces written in any order, reading back only what arrived ahead of the hashed prefix. */
class PrefixHasherTest {

  @TempDir
  Path dir;

  private static byte[] content(int size) {
    byte[] b = new byte[size];
    new Random(42).nextBytes(b);
    return b;
  }

  /** The partial file the hasher reads back from. */
  private FileChannel open() throws Exception {
    return FileChannel.open(dir.resolve("f"), StandardOpenOption.CREATE, StandardOpenOption.READ, StandardOpenOption.WRITE);
  }

  private static RemoteFile lfs(byte[] data) throws Exception {
    return new RemoteFile("model.safetensors", data.length, "0".repeat(40), sha256(data));
  }

  private static void write(FileChannel ch, PrefixHasher hasher, byte[] content, int from, int to) throws Exception {
    ByteBuffer bytes = ByteBuffer.wrap(content, from, to - from);
    ch.write(bytes.duplicate(), from);
    hasher.written(from, bytes);
  }

  @Test
  void aStreamWrittenInOrderIsHashedFromMemoryAlone() throws Exception {
    byte[] data = content(300_000);
    RemoteFile f = lfs(data);
    try (FileChannel ch = open()) {
      PrefixHasher hasher = new PrefixHasher(f, ch);
      for (int pos = 0; pos < data.length; pos += 65_536) {
        write(ch, hasher, data, pos, Math.min(data.length, pos + 65_536));
      }
      assertThat(hasher.finish()).isEqualTo(sha256(data));
      assertThat(hasher.readBack()).isZero();
    }
  }

  @Test
  void rangesWrittenOutOfOrderAreReadBackOnlyForWhatArrivedAheadOfThePrefix() throws Exception {
    byte[] data = content(400_000);
    RemoteFile f = lfs(data);
    try (FileChannel ch = open()) {
      PrefixHasher hasher = new PrefixHasher(f, ch);
      write(ch, hasher, data, 300_000, 400_000); // the last range first
      write(ch, hasher, data, 100_000, 150_000); // half of the second
      assertThat(hasher.hashed()).isZero();
      write(ch, hasher, data, 0, 100_000); // the first range: hashed from memory, then the second's half read back
      assertThat(hasher.hashed()).isEqualTo(150_000);
      write(ch, hasher, data, 150_000, 300_000); // continues the prefix: from memory, then the last range read back
      assertThat(hasher.finish()).isEqualTo(sha256(data));
      assertThat(hasher.readBack()).isEqualTo(50_000 + 100_000);
    }
  }

  @Test
  void bytesLeftByAnEarlierRunAreHashedOnceOnResume() throws Exception {
    byte[] data = content(200_000);
    RemoteFile f = new RemoteFile("config.json", data.length, gitSha1(data), null);
    try (FileChannel ch = open()) {
      ch.write(ByteBuffer.wrap(data, 0, 120_000), 0);
      PrefixHasher hasher = new PrefixHasher(f, ch);
      hasher.alreadyWritten(0, 120_000);
      assertThat(hasher.hashed()).isEqualTo(120_000);
      write(ch, hasher, data, 120_000, 200_000);
      assertThat(hasher.finish()).as("the git blob id of a non-LFS file").isEqualTo(gitSha1(data));
      assertThat(hasher.readBack()).isEqualTo(120_000);
    }
  }

  @Test
  void aGapLeftUnwrittenCannotPassAsTheWholeFile() throws Exception {
    byte[] data = content(100_000);
    RemoteFile f = lfs(data);
    try (FileChannel ch = open()) {
      PrefixHasher hasher = new PrefixHasher(f, ch);
      write(ch, hasher, data, 0, 40_000);
      write(ch, hasher, data, 60_000, 100_000);
      assertThatThrownBy(hasher::finish).hasMessageContaining("only 40000 of 100000 bytes");
    }
  }

  @Test
  void bytesThatContinueThePrefixAreHashedBeforeTheyAreOnDiskOthersOnlyOnceTheyAre() throws Exception {
    byte[] data = content(300_000);
    RemoteFile f = lfs(data);
    try (FileChannel ch = open()) {
      PrefixHasher hasher = new PrefixHasher(f, ch);
      List<ByteBuffer> first = List.of(ByteBuffer.wrap(data, 0, 100_000));
      List<ByteBuffer> last = List.of(ByteBuffer.wrap(data, 200_000, 100_000));
      // Ahead of the prefix: not taken (it could be read back before it is written), nothing recorded.
      assertThat(hasher.hashIfNext(200_000, last)).isFalse();
      assertThat(hasher.hashIfNext(0, first)).as("continues the prefix: hashed from memory, not yet on disk").isTrue();
      assertThat(hasher.hashed()).isEqualTo(100_000);
      ch.write(ByteBuffer.wrap(data, 200_000, 100_000), 200_000);
      hasher.written(200_000, last); // on disk now: recorded ahead
      ch.write(ByteBuffer.wrap(data, 0, 200_000), 0);
      write(ch, hasher, data, 100_000, 200_000);
      assertThat(hasher.finish()).isEqualTo(sha256(data));
      assertThat(hasher.readBack()).isEqualTo(100_000);
    }
  }
}
