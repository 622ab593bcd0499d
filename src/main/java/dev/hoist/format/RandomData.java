package dev.hoist.format;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;

/**
 * {@link DataSource#random}: counter-based pseudo-random tensor data. Element {@code i} of a tensor
 * is derived from {@code splitmix64(key + i)}, where the key hashes the seed and the tensor's name,
 * so any chunk can be produced without generating what comes before it.
 */
final class RandomData implements DataSource {

  private static final long GOLDEN = 0x9e3779b97f4a7c15L;
  /** Half-width of the weights' distribution. */
  private static final float WEIGHT_SPREAD = 0.04f;
  /** Half-width of the norm weights' distribution around 1. */
  private static final float NORM_SPREAD = 0.05f;

  private final long seed;

  RandomData(long seed) {
    this.seed = seed;
  }

  @Override
  public void fill(TensorInfo tensor, long position, ByteBuffer dst) {
    long key = mix(seed ^ fnv1a(tensor.name()));
    boolean norm = tensor.name().contains("norm");
    float center = norm ? 1f : 0f;
    float spread = norm ? NORM_SPREAD : WEIGHT_SPREAD;
    switch (tensor.dtype()) {
      case "F32" -> {
        for (long i = position / 4; dst.hasRemaining(); i++) {
          dst.putFloat(center + spread * symmetric(mix(key + i * GOLDEN)));
        }
      }
      case "F16" -> {
        for (long i = position / 2; dst.hasRemaining(); i++) {
          dst.putShort(Halfs.toHalf(center + spread * symmetric(mix(key + i * GOLDEN))));
        }
      }
      case "BF16" -> {
        for (long i = position / 2; dst.hasRemaining(); i++) {
          dst.putShort(Halfs.toBfloat16(center + spread * symmetric(mix(key + i * GOLDEN))));
        }
      }
      case "F64" -> {
        for (long i = position / 8; dst.hasRemaining(); i++) {
          dst.putDouble(center + spread * symmetric(mix(key + i * GOLDEN)));
        }
      }
      case "BOOL" -> {
        for (long i = position; dst.hasRemaining(); i++) {
          dst.put((byte) (mix(key + i * GOLDEN) >>> 63));
        }
      }
      case "I8" -> {
        for (long i = position; dst.hasRemaining(); i++) {
          dst.put(int8(mix(key + i * GOLDEN)));
        }
      }
      // Quantized blocks: an f16 scale sized so that scale × quant spans the weights' range, then quants.
      case "Q8_0" -> quantBlocks(dst, key, position / GgmlType.Q8_0.typeSize(), spread / 127, 32, true);
      case "Q4_0" -> quantBlocks(dst, key, position / GgmlType.Q4_0.typeSize(), spread / 8, 16, false);
      default -> randomBytes(dst, key, position);
    }
  }

  private static void quantBlocks(ByteBuffer dst, long key, long firstBlock, float scale, int quantBytes,
      boolean signed) {
    for (long b = firstBlock; dst.hasRemaining(); b++) {
      long base = key + b * (quantBytes + 1) * GOLDEN;
      float u = (symmetric(mix(base)) + 1) / 2; // 0..1
      dst.putShort(Halfs.toHalf(scale * (0.5f + u)));
      for (int q = 1; q <= quantBytes; q++) {
        long r = mix(base + q * GOLDEN);
        dst.put(signed ? int8(r) : (byte) r);
      }
    }
  }

  private static void randomBytes(ByteBuffer dst, long key, long position) {
    long word = position / 8;
    int skip = (int) (position % 8);
    while (dst.hasRemaining()) {
      long r = mix(key + word++ * GOLDEN) >>> (8 * skip);
      for (int k = skip; k < 8 && dst.hasRemaining(); k++, r >>>= 8) {
        dst.put((byte) r);
      }
      skip = 0;
    }
  }

  /** A value in (-1, 1), triangular: the sum of two uniforms looks more like weights than one does. */
  private static float symmetric(long r) {
    float u1 = (r >>> 40) * 0x1.0p-24f;
    float u2 = ((r >>> 16) & 0xffffff) * 0x1.0p-24f;
    return u1 + u2 - 1f;
  }

  /** A byte in [-127, 127], the range ggml's int8 quants use. */
  private static byte int8(long r) {
    return (byte) (((r >>> 32) % 255) - 127);
  }

  /** splitmix64's finalizer. */
  static long mix(long z) {
    z = (z ^ (z >>> 30)) * 0xbf58476d1ce4e5b9L;
    z = (z ^ (z >>> 27)) * 0x94d049bb133111ebL;
    return z ^ (z >>> 31);
  }

  private static long fnv1a(String s) {
    long h = 0xcbf29ce484222325L;
    for (byte b : s.getBytes(StandardCharsets.UTF_8)) {
      h = (h ^ (b & 0xff)) * 0x100000001b3L;
    }
    return h;
  }
}
