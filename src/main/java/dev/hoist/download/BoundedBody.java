package dev.hoist.download;

import dev.hoist.contract.ErrorCode;
import dev.hoist.contract.HoistException;
import io.vertx.core.buffer.Buffer;
import java.util.zip.CRC32;
import java.util.zip.DataFormatException;
import java.util.zip.Inflater;

/**
 * A metadata answer read as it arrives, never more than {@code limit} bytes of it: the bytes as
 * sent, or for {@code Content-Encoding: gzip} the bytes they inflate to, counted while inflating in
 * small steps. A gzip bomb (a gibibyte of zeros in a megabyte) therefore costs at most the limit
 * plus one step of memory, and {@link #add} fails the moment the limit is passed, so the caller can
 * drop the connection instead of reading the rest.
 */
final class BoundedBody {

  private static final int STEP = 64 << 10;
  private static final int MAX_GZIP_HEADER = 64 << 10;

  private final long limit;
  private final String what;
  private final Buffer body = Buffer.buffer();
  private final Inflater inflater;
  private final CRC32 crc;
  private final byte[] out;
  /** gzip: the header while it is incomplete, then the trailer once the deflate stream has ended. */
  private Buffer pending = Buffer.buffer();
  private boolean headerDone;

  /** {@code what} names the answer in errors ("hub's metadata answer"). */
  BoundedBody(long limit, boolean gzip, String what) {
    this.limit = limit;
    this.what = what;
    this.inflater = gzip ? new Inflater(true) : null;
    this.crc = gzip ? new CRC32() : null;
    this.out = gzip ? new byte[STEP] : null;
  }

  /** Takes the next piece of the answer; throws once the answer is larger than the limit, or is not valid gzip. */
  void add(Buffer chunk) {
    if (inflater == null) {
      if (body.length() + (long) chunk.length() > limit) {
        throw tooLarge();
      }
      body.appendBuffer(chunk);
      return;
    }
    byte[] in = chunk.getBytes();
    if (!headerDone) {
      pending.appendBytes(in);
      int headerLength = gzipHeaderLength(pending);
      if (headerLength < 0) {
        if (pending.length() > MAX_GZIP_HEADER) {
          throw corrupt("its gzip header is longer than " + MAX_GZIP_HEADER + " bytes");
        }
        return;
      }
      headerDone = true;
      in = pending.getBytes(headerLength, pending.length());
      pending = Buffer.buffer();
    }
    if (inflater.finished()) {
      pending.appendBytes(in);
      return;
    }
    inflater.setInput(in);
    try {
      while (!inflater.finished() && !inflater.needsInput()) {
        int n = inflater.inflate(out);
        if (n == 0 && inflater.needsDictionary()) {
          throw corrupt("its gzip stream asks for a dictionary");
        }
        if (body.length() + (long) n > limit) {
          throw tooLarge();
        }
        crc.update(out, 0, n);
        body.appendBytes(out, 0, n);
      }
    } catch (DataFormatException e) {
      throw corrupt("its gzip stream is corrupt");
    }
    if (inflater.finished() && inflater.getRemaining() > 0) {
      pending.appendBytes(in, in.length - inflater.getRemaining(), inflater.getRemaining());
    }
  }

  /** The whole answer, once the response has ended; checks a gzip answer ended where its trailer says. */
  Buffer finish() {
    if (inflater != null) {
      try {
        if (!headerDone || !inflater.finished() || pending.length() < 8) {
          throw corrupt("its gzip stream ends early");
        }
        if ((pending.getIntLE(0) & 0xffffffffL) != crc.getValue() || (pending.getIntLE(4) & 0xffffffffL) != (body.length() & 0xffffffffL)) {
          throw corrupt("its gzip checksum does not match");
        }
      } finally {
        inflater.end();
      }
    }
    return body;
  }

  /** Frees the inflater of an answer given up on. */
  void discard() {
    if (inflater != null) {
      inflater.end();
    }
  }

  private HoistException tooLarge() {
    discard();
    return new HoistException(ErrorCode.HUB_ERROR, what + " is larger than " + human(limit) + (inflater != null ? " once decompressed" : "")
        + "; stopped reading it");
  }

  private HoistException corrupt(String why) {
    discard();
    return new HoistException(ErrorCode.HUB_ERROR, what + " is not readable: " + why);
  }

  private static String human(long bytes) {
    return bytes % (1 << 20) == 0 ? (bytes >> 20) + " MiB" : dev.hoist.contract.Bytes.human(bytes);
  }

  /** The length of the gzip header (RFC 1952) at the start of {@code b}, or -1 if it is not complete yet. */
  private int gzipHeaderLength(Buffer b) {
    if (b.length() < 10) {
      return -1;
    }
    if ((b.getByte(0) & 0xff) != 0x1f || (b.getByte(1) & 0xff) != 0x8b || b.getByte(2) != 8) {
      throw corrupt("it is marked gzip but is not");
    }
    int flags = b.getByte(3) & 0xff;
    int pos = 10;
    if ((flags & 4) != 0) { // FEXTRA
      if (b.length() < pos + 2) {
        return -1;
      }
      pos += 2 + (b.getUnsignedShortLE(pos));
    }
    for (int flag : new int[] {8, 16}) { // FNAME, FCOMMENT: zero-terminated
      if ((flags & flag) != 0) {
        while (pos < b.length() && b.getByte(pos) != 0) {
          pos++;
        }
        if (pos >= b.length()) {
          return -1;
        }
        pos++;
      }
    }
    if ((flags & 2) != 0) { // FHCRC
      pos += 2;
    }
    return pos <= b.length() ? pos : -1;
  }
}
