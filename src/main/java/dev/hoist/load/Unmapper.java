package dev.hoist.load;

import java.lang.reflect.Field;
import java.lang.reflect.Method;
import java.nio.ByteBuffer;
import java.nio.MappedByteBuffer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Unmaps a {@link MappedByteBuffer} at once instead of whenever the garbage collector gets to it, so
 * an unloaded model's memory is given back when the user asks, not minutes later.
 *
 * <p>Java has no public unmap: this calls {@code sun.misc.Unsafe.invokeCleaner} (module
 * {@code jdk.unsupported}, open to reflection on every JDK 9+) through reflection, and falls back to
 * "unmapped at GC" if that is not available. Touching a buffer after it was unmapped crashes the JVM,
 * so callers must only unmap a buffer that nothing can reach any more: no worker still paging it,
 * and no view of it handed out (see {@link ResidentModel#release()}).
 */
final class Unmapper {

  private static final Logger log = LoggerFactory.getLogger(Unmapper.class);
  private static final Object UNSAFE;
  private static final Method INVOKE_CLEANER;

  static {
    Object unsafe = null;
    Method invokeCleaner = null;
    try {
      Class<?> type = Class.forName("sun.misc.Unsafe");
      Field field = type.getDeclaredField("theUnsafe");
      field.setAccessible(true);
      unsafe = field.get(null);
      invokeCleaner = type.getMethod("invokeCleaner", ByteBuffer.class);
    } catch (ReflectiveOperationException | RuntimeException e) {
      log.info("Mappings will be released by the garbage collector: sun.misc.Unsafe.invokeCleaner is not available ({})",
          e.toString());
    }
    UNSAFE = unsafe;
    INVOKE_CLEANER = invokeCleaner;
  }

  private Unmapper() {
  }

  /** True if {@link #unmap} can release mappings at once on this JVM. */
  static boolean available() {
    return INVOKE_CLEANER != null;
  }

  /**
   * Unmaps {@code buffer} now if possible; returns false when it is left to the garbage collector.
   * The caller must hold the only reference that will ever be used again.
   */
  static boolean unmap(MappedByteBuffer buffer) {
    if (INVOKE_CLEANER == null || buffer == null) {
      return false;
    }
    try {
      INVOKE_CLEANER.invoke(UNSAFE, buffer);
      return true;
    } catch (ReflectiveOperationException | RuntimeException e) {
      // e.g. IllegalArgumentException for a slice or duplicate: those are freed with their parent
      log.debug("Could not unmap a buffer at once; the garbage collector will: {}", e.toString());
      return false;
    }
  }
}
