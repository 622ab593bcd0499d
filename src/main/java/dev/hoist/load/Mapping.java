package dev.hoist.load;

import java.nio.MappedByteBuffer;

/**
 * One mapped chunk of a weight file.
 *
 * @param file   the weight file's name in the model (e.g. {@code model-00001-of-00004.safetensors})
 * @param offset where the chunk starts in that file
 * @param buffer the read-only mapping; its capacity is the chunk's length
 */
record Mapping(String file, long offset, MappedByteBuffer buffer) {

  long length() {
    return buffer.capacity();
  }

  boolean contains(long from, long to) {
    return from >= offset && to <= offset + length();
  }
}
