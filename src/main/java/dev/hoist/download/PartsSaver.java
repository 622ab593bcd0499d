package dev.hoist.download;

import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Supplier;

/**
 * Saves a ranged transfer's sidecar: at most one write at a time, on a worker, and a request made
 * while one runs is folded into one more write afterwards — so saves never overtake each other and
 * the file on disk is always the latest snapshot. Used on the download verticle's event loop only.
 */
final class PartsSaver {

  /** Bytes written since the last save are fetched again after a crash: a few hundred ms of them at most. */
  private static final long EVERY_NANOS = 250_000_000L;

  private final Vertx vertx;
  private final Supplier<PartialBlob> current;
  private boolean saving;
  private boolean again;
  private long last;
  private final List<Promise<Void>> waiters = new ArrayList<>();

  /** {@code current}: the partial state to save (its shape may change on a restart); null or a stream: nothing to save. */
  PartsSaver(Vertx vertx, Supplier<PartialBlob> current) {
    this.vertx = vertx;
    this.current = current;
  }

  /** Saves if a quarter of a second has passed since the last save (while bytes arrive). */
  void maybe() {
    if (System.nanoTime() - last >= EVERY_NANOS) {
      now();
    }
  }

  /** Saves now (after the save under way, if any). */
  void now() {
    PartialBlob blob = current.get();
    if (blob == null || !blob.ranged) {
      release();
      return;
    }
    if (saving) {
      again = true;
      return;
    }
    saving = true;
    last = System.nanoTime();
    String json = blob.partsSnapshot(); // taken here, on the event loop, where the ranges change
    vertx.executeBlocking(() -> {
      blob.saveParts(json);
      return null;
    }, false).onComplete(ar -> {
      saving = false;
      if (again) {
        again = false;
        now();
      } else {
        release();
      }
    });
  }

  /** A last save, after every one under way: completes once it is on disk (or failed: the data stays either way). */
  Future<Void> flush() {
    Promise<Void> p = Promise.promise();
    waiters.add(p);
    if (saving) {
      again = true;
    } else {
      now();
    }
    return p.future();
  }

  private void release() {
    waiters.forEach(Promise::tryComplete);
    waiters.clear();
  }
}
