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
 * Loads one downloaded model: validates every weight file, checks memory, then either maps the
 * tensor data and touches every page on a worker, one slice at a time (progress is the bytes
 * actually resident, and the event loop is never blocked), or hands the model to a native service
 * ({@link NativeLoad}). Cancellable between slices.
 *
 * <p>Runs on the load verticle's event loop: every continuation comes back to it, so the fields
 * need no locking.
 */
final class LoadJob {

  /** One mapping covers about this much at most (a MappedByteBuffer is limited to 2 GiB). */
  static final long MAX_MAPPING = 1L << 30;
  /** One worker task touches at most this much, then progress is reported and cancel is checked. */
  static final long SLICE = 32L << 20;
  private static final int PAGE = 4096;

  private final LoadVerticle owner;
  private final StageReporter reporter;
  private final JsonObject command;
  private final WorkerExecutor pager;
  private final String key;
  private final List<Mapping> mappings = new ArrayList<>();
  private ModelInspector.Plan plan;
  private NativeLoad nativeLoad;
  private long bytesDone;
  private long bytesTotal;
  /** When paging started, for HOIST_LOAD_MAX_BYTES_PER_SECOND. */
  private long pagingStarted;
  private String currentFile;
  private boolean cancelled;
  private Future<JsonObject> run;
  /** Sink for the touched bytes, so the JIT cannot drop the reads. */
  private long checksum;

  LoadJob(LoadVerticle owner, StageReporter reporter, JsonObject command, WorkerExecutor pager) {
    this.owner = owner;
    this.reporter = reporter;
    this.command = command;
    this.pager = pager;
    this.key = command.getString(MODEL_KEY);
  }

  /** What the worker found out before anything is mapped. */
  private record Inspected(ModelInspector.Plan plan, long memoryAvailable) {
  }

  String key() {
    return key;
  }

  /** Bytes this job will hold once loaded (0 until validated): counted against the memory limit. */
  long reservedBytes() {
    return bytesTotal;
  }

  boolean isCancelled() {
    return cancelled;
  }

  Future<JsonObject> run() {
    NativeSettings nativeSettings;
    try {
      nativeSettings = NativeSettings.resolve(command.getValue(NATIVE), owner.settings());
    } catch (RuntimeException e) {
      return run = Future.failedFuture(e);
    }
    JsonArray files = command.getJsonArray(FILES, new JsonArray());
    reporter.progress(new JsonObject().put(MESSAGE, "Validating model files")
        .put(LOG, "Validating " + files.size() + " files before loading"));
    // procfs and the cgroup files are read on the worker too, with the headers
    Future<JsonObject> work = pager.executeBlocking(() -> new Inspected(ModelInspector.inspect(files), MemoryProbe.available())).compose(in -> {
      checkCancelled();
      ModelInspector.Plan p = in.plan();
      plan = p;
      // a native service reads whole files (headers too); paging in covers the tensor data
      long total = nativeSettings != null ? p.fileBytes() : p.bytes();
      reporter.progress(new JsonObject().put(BYTES_DONE, 0).put(BYTES_TOTAL, total)
          .put(LOG, "Validated " + p.format + ": " + p.tensors.size() + " tensors, " + p.parameters + " parameters, "
              + human(p.bytes()) + " of tensor data in " + p.regions.size() + " file(s)"));
      ResidentModel already = owner.resident(key);
      if (already != null) {
        reporter.progress(new JsonObject().put(BYTES_DONE, total).put(BYTES_TOTAL, total)
            .put(LOG, "Model " + key + " is already loaded (" + human(already.bytes) + " resident); nothing to do"));
        owner.applyPolicy(already, command);
        return Future.succeededFuture(already.summary.copy());
      }
      return ensureMemory(p.bytes(), in.memoryAvailable()).compose(v -> {
        checkCancelled();
        bytesTotal = p.bytes();
        return nativeSettings != null ? runNative(nativeSettings) : pageAll();
      });
    });
    // Whatever stopped the job, what it mapped and did not hand over is let go before it ends.
    run = work.recover(err -> releaseMappings().transform(v -> Future.failedFuture(err)));
    return run;
  }

  /**
   * Stops the job: paging stops at the next slice boundary (a worker task is not interrupted; a
   * slice takes milliseconds), a native service is stopped with its process tree. Completes once
   * nothing of the job runs any more.
   */
  Future<Void> cancel() {
    cancelled = true;
    Future<Void> stopped = nativeLoad != null ? nativeLoad.cancel() : Future.succeededFuture();
    Future<?> settled = run == null ? Future.succeededFuture() : run.transform(ar -> Future.succeededFuture());
    return Future.all(stopped, settled).mapEmpty();
  }

  private void checkCancelled() {
    if (cancelled) {
      throw new LoadCancelled();
    }
  }

  /**
   * The configured cap ({@code HOIST_MEMORY_LIMIT_MB}, less what Hoist already holds or is loading)
   * and what the system has (MemAvailable and the cgroup, less the headroom); the smaller one must
   * fit the model. When it does not and HOIST_EVICT_FOR_MEMORY allows, the least recently used
   * unpinned models are unloaded first, each eviction logged on this operation.
   */
  private Future<Void> ensureMemory(long needed, long system) {
    long headroom = owner.settings().memoryHeadroomBytes();
    long room = system < 0 ? Long.MAX_VALUE : system - headroom;
    String why = "after a headroom of " + human(headroom);
    long limit = owner.settings().memoryLimitBytes();
    if (limit > 0) {
      long held = owner.bytesHeld(this);
      long capped = limit - held;
      if (capped < room) {
        room = capped;
        why = "of the limit of " + human(limit) + " (HOIST_MEMORY_LIMIT_MB), " + human(held) + " already in use by loaded models";
      }
    }
    if (room == Long.MAX_VALUE) {
      reporter.warn("Cannot tell how much memory is available on this system; loading without a memory check");
      return Future.succeededFuture();
    }
    if (needed <= room) {
      return Future.succeededFuture();
    }
    if (owner.settings().evictForMemory()) {
      List<ResidentModel> victims = owner.evictionCandidates(needed - Math.max(0, room), key);
      if (!victims.isEmpty()) {
        List<Future<Long>> releases = new ArrayList<>();
        for (ResidentModel v : victims) {
          long idleMs = java.time.Duration.between(v.lastUsed, java.time.Instant.now()).toMillis();
          reporter.warn("Memory is short by " + human(needed - Math.max(0, room)) + ": evicting " + v.key + " (" + human(v.bytes)
              + ", unused for " + idleMs / 1000 + " s, least recently used and not pinned)");
          releases.add(owner.release(v, "evicted", idleMs));
        }
        return Future.join(releases).transform(ar -> ensureMemoryNoEviction(needed, system));
      }
    }
    return Future.failedFuture(new HoistException(ErrorCode.INSUFFICIENT_MEMORY, "insufficient memory: model needs " + human(needed)
        + ", " + human(Math.max(0, room)) + " available (" + why + ")"
        + (owner.settings().evictForMemory() ? "; unloading unpinned models would not free enough" : ""), false, null));
  }

  /** The check again after evicting: no second round of evictions. */
  private Future<Void> ensureMemoryNoEviction(long needed, long system) {
    long headroom = owner.settings().memoryHeadroomBytes();
    long room = system < 0 ? Long.MAX_VALUE : system - headroom;
    long limit = owner.settings().memoryLimitBytes();
    if (limit > 0) {
      room = Math.min(room, limit - owner.bytesHeld(this));
    }
    return needed <= room ? Future.succeededFuture() : Future.failedFuture(new HoistException(ErrorCode.INSUFFICIENT_MEMORY,
        "insufficient memory: model needs " + human(needed) + ", " + human(Math.max(0, room)) + " available after evictions", false, null));
  }

  private Future<JsonObject> runNative(NativeSettings nativeSettings) {
    nativeLoad = new NativeLoad(owner.vertx(), reporter, nativeSettings, plan, command, owner.settings(), owner.http());
    return nativeLoad.start().map(service -> {
      if (cancelled) { // cancel() stops the service too; this only keeps it from being registered
        throw new LoadCancelled();
      }
      JsonObject summary = plan.summary(plan.bytes()).put(NATIVE, service.toJson().copy());
      summary.getJsonObject(NATIVE).remove("last_output");
      owner.register(owner.applyPolicy(ResidentModel.served(key, command.getString(REPO), command.getString(COMMIT), plan, service, summary), command));
      return summary;
    });
  }

  private Future<JsonObject> pageAll() {
    pagingStarted = System.nanoTime();
    Future<Void> chain = Future.succeededFuture();
    for (ModelInspector.Region region : plan.regions) {
      for (MappingPlan.Chunk chunk : MappingPlan.chunks(region.offset, region.offset + region.length, region.tensors,
          MAX_MAPPING, MappingPlan.HARD_MAX)) {
        chain = chain.compose(v -> pageIn(region, chunk));
      }
    }
    return chain.compose(v -> {
      checkCancelled();
      ResidentModel existing = owner.resident(key);
      if (existing != null) { // another operation loaded the same model meanwhile: keep one copy
        JsonObject summary = existing.summary.copy();
        return releaseMappings().map(summary);
      }
      JsonObject summary = plan.summary(bytesTotal);
      owner.register(owner.applyPolicy(ResidentModel.mapped(key, command.getString(REPO), command.getString(COMMIT), plan, mappings, summary), command));
      reporter.progress(new JsonObject().put(BYTES_DONE, bytesDone).put(BYTES_TOTAL, bytesTotal).put(CURRENT_FILE, currentFile)
          .put(LOG, "Paged in " + human(bytesTotal) + " (" + mappings.size() + " mapping(s))"));
      mappings.clear(); // handed over to the resident model
      return Future.succeededFuture(summary);
    });
  }

  /** Maps one chunk of a file and touches it, a slice per worker task. */
  private Future<Void> pageIn(ModelInspector.Region region, MappingPlan.Chunk chunk) {
    checkCancelled();
    currentFile = region.name;
    return pager.executeBlocking(() -> {
      try (FileChannel channel = FileChannel.open(region.file, StandardOpenOption.READ)) {
        return channel.map(FileChannel.MapMode.READ_ONLY, chunk.offset(), chunk.length());
      }
    }).compose(buffer -> {
      mappings.add(new Mapping(region.name, chunk.offset(), buffer));
      return touch(buffer, 0);
    });
  }

  private Future<Void> touch(MappedByteBuffer mapping, int from) {
    checkCancelled();
    int capacity = mapping.capacity();
    if (from >= capacity) {
      return Future.succeededFuture();
    }
    long delay = throttleDelayMs();
    if (delay > 0) {
      return owner.vertx().timer(delay).compose(v -> touch(mapping, from));
    }
    int to = (int) Math.min(capacity, from + slice());
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

  /** Under a rate limit, slices of 50 ms' worth, so progress and cancel stay prompt. */
  private long slice() {
    long limit = owner.settings().loadMaxBytesPerSecond();
    return limit <= 0 ? SLICE : Math.max(PAGE, Math.min(SLICE, limit / 20 / PAGE * PAGE));
  }

  /** How long to wait before the next slice to keep to HOIST_LOAD_MAX_BYTES_PER_SECOND (0 = go on). */
  private long throttleDelayMs() {
    long limit = owner.settings().loadMaxBytesPerSecond();
    if (limit <= 0) {
      return 0;
    }
    long due = pagingStarted + (long) (bytesDone * 1e9 / limit);
    return Math.max(0, (due - System.nanoTime()) / 1_000_000);
  }

  /**
   * Unmaps what this job mapped and still holds, on a worker (tearing down a large mapping takes
   * a while). Only called when no worker task of this job touches them any more.
   */
  private Future<Void> releaseMappings() {
    if (mappings.isEmpty()) {
      return Future.succeededFuture();
    }
    List<Mapping> held = new ArrayList<>(mappings);
    mappings.clear();
    return pager.executeBlocking(() -> {
      held.forEach(m -> Unmapper.unmap(m.buffer()));
      return null;
    });
  }

  static String human(long bytes) {
    return dev.hoist.contract.Bytes.human(bytes);
  }

}
