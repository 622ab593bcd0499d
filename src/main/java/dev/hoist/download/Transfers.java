package dev.hoist.download;

import dev.hoist.contract.HoistException;
import io.vertx.core.Future;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The blob transfers running in this download verticle, one per blob: a second operation that needs
 * a blob already being fetched follows that transfer instead of waiting for it or fetching it again.
 * Used on the download verticle's event loop only.
 */
final class Transfers {

  private final DownloadVerticle owner;
  private final Map<Path, BlobTransfer> running = new HashMap<>();

  Transfers(DownloadVerticle owner) {
    this.owner = owner;
  }

  /** Follows the transfer of {@code file}'s blob, starting one if none runs; true in {@code shared[0]} if it joined one. */
  BlobTransfer follow(String repo, String hub, String url, RemoteFile file, BlobTransfer.Subscriber subscriber, boolean[] shared) {
    Path blob = owner.cache().blob(repo, file.etag());
    BlobTransfer transfer = running.get(blob);
    if (transfer != null && transfer.isAborted()) {
      transfer = null; // winding down (its last follower left): a new one waits for its lock, then resumes its bytes
    }
    shared[0] = transfer != null;
    if (transfer == null) {
      transfer = new BlobTransfer(owner, repo, hub, url, file);
      running.put(blob, transfer);
      BlobTransfer started = transfer;
      transfer.subscribe(subscriber);
      transfer.start().onComplete(ar -> running.remove(blob, started));
    } else {
      transfer.subscribe(subscriber);
    }
    return transfer;
  }

  /** Stops every transfer (partial files stay); completes when all have let go of their files and locks. */
  Future<Void> abortAll(HoistException why) {
    List<Future<Void>> all = new ArrayList<>();
    for (BlobTransfer t : new ArrayList<>(running.values())) {
      t.abort(why);
      all.add(t.future().otherwiseEmpty());
    }
    return Future.join(all).mapEmpty();
  }
}
