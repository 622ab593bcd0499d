package dev.hoist.load;

import static dev.hoist.contract.EventBusContract.*;

import dev.hoist.contract.ErrorCode;
import dev.hoist.contract.HoistException;
import dev.hoist.contract.StageReporter;
import io.vertx.core.Future;
import io.vertx.core.WorkerExecutor;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;

/**
 * Loads one downloaded model: validates every weight file, checks memory, then maps the tensor
 * data and touches every page on a worker, one slice at a time, so progress is the bytes actually
 * resident and the event loop is never blocked.
 */
final class LoadJob {

  /** One mapping covers at most this much (a MappedByteBuffer is limited to 2 GiB). */
  static final long MAX_MAPPING = 1L << 30;
  /** One worker task touches at most this much, then progress is reported. */
  static final long SLICE = 32L << 20;
  private static final int PAGE = 4096;

  private final LoadVerticle owner;
  private final StageReporter reporter;
  private final JsonObject command;
  private final WorkerExecutor pager;
  private final List<MappedByteBuffer> mappings = new ArrayList<>();
  private ModelInspector.Plan plan;
  private long bytesDone;
  private long bytesTotal;
  private String currentFile;
  /** Sink for the touched bytes, so the JIT cannot drop the reads. */
  private long checksum;

  LoadJob(LoadVerticle owner, StageReporter reporter, JsonObject command, WorkerExecutor pager) {
    this.owner = owner;
    this.reporter = reporter;
    this.command = command;
    this.pager = pager;
  }

  Future<JsonObject> run() {
    String key = command.getString(MODEL_KEY);
    JsonArray files = command.getJsonArray(FILES, new JsonArray());
    reporter.progress(new JsonObject().put(MESSAGE, "Validating model files")
        .put(LOG, "Validating " + files.size() + " files before loading"));
    return pager.executeBlocking(() -> ModelInspector.inspect(files)).compose(p -> {
      plan = p;
      bytesTotal = p.bytes();
      reporter.progress(new JsonObject().put(BYTES_DONE, 0).put(BYTES_TOTAL, bytesTotal)
          .put(LOG, "Validated " + p.format + ": " + p.tensors.size() + " tensors, " + p.parameters + " parameters, "
              + human(bytesTotal) + " of tensor data in " + p.regions.size() + " file(s)"));
      ResidentModel already = owner.resident(key);
      if (already != null) {
        reporter.progress(new JsonObject().put(BYTES_DONE, bytesTotal).put(BYTES_TOTAL, bytesTotal)
            .put(LOG, "Model " + key + " is already loaded (" + human(already.bytes) + " resident); nothing to page in"));
        return Future.succeededFuture(already.summary.copy());
      }
      checkMemory();
      Future<Void> chain = Future.succeededFuture();
      for (ModelInspector.Region region : p.regions) {
        chain = chain.compose(v -> pageIn(region, region.offset));
      }
      return chain.map(v -> {
        JsonObject summary = plan.summary(bytesTotal);
        owner.register(new ResidentModel(key, command.getString(REPO), command.getString(COMMIT), mappings, bytesTotal, summary));
        reporter.progress(new JsonObject().put(BYTES_DONE, bytesDone).put(BYTES_TOTAL, bytesTotal).put(CURRENT_FILE, currentFile)
            .put(LOG, "Paged in " + human(bytesTotal) + " (" + mappings.size() + " mapping(s))"));
        return summary;
      });
    });
  }

  private void checkMemory() {
    long available = MemoryProbe.available();
    if (available < 0) {
      reporter.warn("Cannot tell how much memory is available on this system; loading without a memory check");
      return;
    }
    long room = available - owner.settings().memoryHeadroomBytes();
    if (bytesTotal > room) {
      throw new HoistException(ErrorCode.INSUFFICIENT_MEMORY, "insufficient memory: model needs " + human(bytesTotal) + ", "
          + human(Math.max(0, room)) + " available (after a headroom of " + human(owner.settings().memoryHeadroomBytes()) + ")");
    }
  }

  /** Maps and touches one region from {@code position}, a slice per worker task. */
  private Future<Void> pageIn(ModelInspector.Region region, long position) {
    long end = region.offset + region.length;
    if (position >= end) {
      return Future.succeededFuture();
    }
    currentFile = region.name;
    long mapLength = Math.min(MAX_MAPPING, end - position);
    return pager.executeBlocking(() -> {
      try (FileChannel channel = FileChannel.open(region.file, StandardOpenOption.READ)) {
        return channel.map(FileChannel.MapMode.READ_ONLY, position, mapLength);
      }
    }).compose(mapping -> {
      mappings.add(mapping);
      return touch(mapping, 0);
    }).compose(v -> pageIn(region, position + mapLength));
  }

  private Future<Void> touch(MappedByteBuffer mapping, int from) {
    int capacity = mapping.capacity();
    if (from >= capacity) {
      return Future.succeededFuture();
    }
    int to = (int) Math.min(capacity, from + SLICE);
    return pager.executeBlocking(() -> {
      long sum = 0;
      for (int i = from; i < to; i += PAGE) {
        sum += mapping.get(i);
      }
      return sum;
    }).compose(sum -> {
      checksum += sum;
      bytesDone += to - from;
      reporter.maybeProgress(() -> new JsonObject().put(BYTES_DONE, bytesDone).put(BYTES_TOTAL, bytesTotal)
          .put(CURRENT_FILE, currentFile).put(MESSAGE, "Loading " + currentFile + " into memory"));
      return touch(mapping, to);
    });
  }

  static String human(long bytes) {
    if (bytes < 1024) {
      return bytes + " B";
    }
    String[] units = {"KiB", "MiB", "GiB", "TiB"};
    double v = bytes;
    int u = -1;
    while (v >= 1024 && u < units.length - 1) {
      v /= 1024;
      u++;
    }
    return String.format("%.1f %s", v, units[u]);
  }
}
