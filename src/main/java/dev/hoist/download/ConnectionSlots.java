package dev.hoist.download;

import io.vertx.core.Future;
import io.vertx.core.Promise;
import java.util.ArrayDeque;

/**
 * The download connections the stage may hold at once (HOIST_DOWNLOAD_MAX_CONNECTIONS). A file's
 * first connection queues for a slot ({@link #acquire}); its extra range connections only take a
 * slot nobody is waiting for ({@link #tryAcquire}), so a small file is never stuck behind the extra
 * connections of a large one. Used on the download verticle's event loop only.
 */
final class ConnectionSlots {

  private final int max;
  private final ArrayDeque<Promise<Void>> waiting = new ArrayDeque<>();
  private int used;

  ConnectionSlots(int max) {
    this.max = max;
  }

  Future<Void> acquire() {
    if (used < max && waiting.isEmpty()) {
      used++;
      return Future.succeededFuture();
    }
    Promise<Void> p = Promise.promise();
    waiting.add(p);
    return p.future();
  }

  boolean tryAcquire() {
    if (used < max && waiting.isEmpty()) {
      used++;
      return true;
    }
    return false;
  }

  void release() {
    Promise<Void> next = waiting.poll();
    if (next != null) {
      next.complete(); // the slot passes on: used stays the same
    } else {
      used--;
    }
  }
}
