package dev.hoist.load;

import dev.hoist.format.TensorInfo;
import java.util.ArrayList;
import java.util.List;

/**
 * Where to cut a file's tensor data into mappings. A {@code MappedByteBuffer} holds at most 2 GiB,
 * and we keep them to about 1 GiB; cutting at tensor boundaries (not every 1 GiB) means that every
 * tensor up to 2 GiB lies inside one mapping, so {@link TensorView#data()} can hand out a copy-free
 * view of it. Only a tensor larger than a mapping can hold is split across several.
 */
final class MappingPlan {

  /** A byte range of a file to map: {@code [offset, offset + length)}. */
  record Chunk(long offset, long length) {
    long end() {
      return offset + length;
    }
  }

  /** What one mapping may hold at most ({@code ByteBuffer} indexes are ints). */
  static final long HARD_MAX = Integer.MAX_VALUE;

  private MappingPlan() {
  }

  /**
   * Cuts {@code [start, end)} into chunks of at most {@code softMax} bytes, at tensor boundaries;
   * a tensor larger than {@code softMax} gets a chunk of its own (split in {@code softMax} pieces
   * only if it is larger than {@code hardMax}).
   *
   * @param tensors the file's tensors, sorted by offset, inside {@code [start, end)}
   */
  static List<Chunk> chunks(long start, long end, List<TensorInfo> tensors, long softMax, long hardMax) {
    if (softMax <= 0 || softMax > hardMax) {
      throw new IllegalArgumentException("need 0 < softMax <= hardMax");
    }
    List<Chunk> out = new ArrayList<>();
    long from = start;
    for (TensorInfo t : tensors) {
      if (t.end() - from <= softMax) {
        continue; // still fits in the current chunk
      }
      if (t.offset() > from) {
        out.add(new Chunk(from, t.offset() - from)); // close the chunk before this tensor
        from = t.offset();
      }
      if (t.end() - from <= softMax) {
        continue;
      }
      if (t.length() <= hardMax) {
        out.add(new Chunk(from, t.end() - from)); // a big tensor alone, still one view
        from = t.end();
      } else {
        while (t.end() - from > softMax) { // too big for any one mapping: pieces
          out.add(new Chunk(from, softMax));
          from += softMax;
        }
      }
    }
    while (from < end) { // the rest (and any padding after the last tensor)
      long n = Math.min(softMax, end - from);
      out.add(new Chunk(from, n));
      from += n;
    }
    return out;
  }
}
