import static dev.hoist.contract.EventBusContract.*;

import dev.hoist.Hoist;
import dev.hoist.contract.ErrorCode;
import dev.hoist.contract.HoistException;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.VerticleBase;
import io.vertx.core.Vertx;
import io.vertx.core.eventbus.DeliveryOptions;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Hoist in-process, plus a small control server for the benchmarks that need real operations without
 * real downloads (fan-out, REST polling, memory).
 *
 * <pre>java -cp hoist.jar:classes BenchDriver PORT_FILE</pre>
 *
 * Hoist is configured from the environment as usual (the scripts point HF_ENDPOINT at a closed port
 * with many, slow retries, so a created operation sits in "initializing" and only this driver moves
 * it). Writes "hoistPort controlPort" to PORT_FILE once both listen. The control server (same JVM,
 * its own verticle and event loop) answers:
 *
 * <ul>
 *   <li>GET  /baseline — a constant JSON object (an operation's JSON, captured once): the REST reference</li>
 *   <li>POST /bench/baseline?id=ID — captures operation ID's JSON as that constant</li>
 *   <li>GET  /bench/heap — heap used after two full GCs, in bytes</li>
 *   <li>POST /bench/ops?count=N&prefix=P — creates N operations (bench/P-i); ids and how many run;
 *       /bench/drive and /bench/cancel act on these from then on</li>
 *   <li>POST /bench/drive?rate=R&seconds=S — R progress reports a second in all, spread evenly over the
 *       running operations created above, each stamped "t=&lt;epoch µs&gt;" in its message; process CPU</li>
 *   <li>POST /bench/cancel — cancels every operation created above (queued ones first)</li>
 *   <li>POST /bench/delete — removes them from the registry (once finished)</li>
 *   <li>POST /bench/memory?ops=N&logs=L — N operations, L log lines each, then failed; heap before/after</li>
 * </ul>
 */
public final class BenchDriver {

  public static void main(String[] args) throws Exception {
    Path portFile = Path.of(args[0]);
    Vertx vertx = Hoist.newVertx();
    JsonObject config = Hoist.loadConfig(vertx, args.length > 1 ? args[1] : "bench/lib/driver-config.json")
        .toCompletionStage().toCompletableFuture().get();
    Hoist.Deployment hoist = Hoist.deploy(vertx, config).toCompletionStage().toCompletableFuture().get();
    Control control = new Control(config);
    vertx.deployVerticle(control).toCompletionStage().toCompletableFuture().get();
    Files.writeString(portFile, hoist.httpPort() + " " + control.port + "\n");
    System.out.println("BenchDriver: Hoist on " + hoist.httpPort() + ", control on " + control.port);
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      try {
        vertx.close().toCompletionStage().toCompletableFuture().get(10, java.util.concurrent.TimeUnit.SECONDS);
      } catch (Exception e) {
        // exiting anyway
      }
    }));
  }

  static final class Control extends VerticleBase {
    private final JsonObject config;
    private final DeliveryOptions timeout = new DeliveryOptions().setSendTimeout(30_000);
    private final List<String> ids = new ArrayList<>();
    private final List<String> running = new ArrayList<>();
    private JsonObject baseline = new JsonObject().put("status", "no baseline captured yet");
    int port;

    Control(JsonObject config) {
      this.config = config;
    }

    @Override
    public Future<?> start() {
      Router router = Router.router(vertx);
      router.get("/baseline").handler(ctx -> ctx.json(baseline));
      router.post("/bench/baseline").handler(this::captureBaseline);
      router.get("/bench/cpu").handler(ctx -> ctx.json(new JsonObject().put("cpu_s", cpuNanos() / 1e9)));
      router.get("/bench/heap").handler(ctx -> heap().onSuccess(h -> ctx.json(new JsonObject().put("heap_used", h))));
      router.post("/bench/ops").handler(this::createOps);
      router.post("/bench/drive").handler(this::drive);
      router.post("/bench/cancel").handler(this::cancelAll);
      router.post("/bench/delete").handler(this::deleteAll);
      router.post("/bench/memory").handler(this::memory);
      router.route().failureHandler(ctx -> ctx.response().setStatusCode(500)
          .end(String.valueOf(ctx.failure())));
      return vertx.createHttpServer().requestHandler(router).listen(0, "127.0.0.1").onSuccess(s -> port = s.actualPort());
    }

    private Future<JsonObject> request(String address, JsonObject body) {
      return vertx.eventBus().<JsonObject>request(address, body, timeout).map(m -> m.body());
    }

    private void captureBaseline(RoutingContext ctx) {
      request(OPS_GET, new JsonObject().put(OPERATION_ID, ctx.queryParams().get("id"))).onSuccess(op -> {
        baseline = op;
        ctx.json(new JsonObject().put("bytes", op.encode().length()));
      }).onFailure(ctx::fail);
    }

    /** Heap used after full GCs, measured off the event loop. */
    private Future<Long> heap() {
      return vertx.executeBlocking(() -> {
        var memory = ManagementFactory.getMemoryMXBean();
        for (int i = 0; i < 3; i++) {
          System.gc();
          Thread.sleep(200);
        }
        return memory.getHeapMemoryUsage().getUsed();
      });
    }

    private static long cpuNanos() {
      return ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean()).getProcessCpuTime();
    }

    private void createOps(RoutingContext ctx) {
      int count = Integer.parseInt(ctx.queryParams().get("count"));
      String prefix = ctx.queryParams().contains("prefix") ? ctx.queryParams().get("prefix") : "op";
      ids.clear(); // drive and cancel act on the operations of the last call
      running.clear();
      List<Future<JsonObject>> created = new ArrayList<>();
      for (int i = 0; i < count; i++) {
        created.add(request(OPS_CREATE, new JsonObject().put(MODEL_NAME, "bench/" + prefix + "-" + i)));
      }
      Future.all(created).onSuccess(all -> {
        JsonArray out = new JsonArray();
        for (Future<JsonObject> f : created) {
          JsonObject op = f.result();
          ids.add(op.getString(OPERATION_ID));
          out.add(op.getString(OPERATION_ID));
          if (!"queued".equals(op.getString(STATUS))) {
            running.add(op.getString(OPERATION_ID));
          }
        }
        ctx.json(new JsonObject().put("ids", out).put("running", running.size()).put("queued", ids.size() - running.size()));
      }).onFailure(ctx::fail);
    }

    /** Progress reports at RATE a second in all, round-robin over the running operations, for SECONDS. */
    private void drive(RoutingContext ctx) {
      double rate = Double.parseDouble(ctx.queryParams().get("rate"));
      double seconds = Double.parseDouble(ctx.queryParams().get("seconds"));
      if (running.isEmpty()) {
        ctx.fail(new IllegalStateException("no running operations to drive; POST /bench/ops first"));
        return;
      }
      int n = running.size();
      double perOpHz = rate / n;
      long periodMs = Math.max(1, Math.round(1000 / perOpHz));
      long total = 1L << 30;
      AtomicLong sent = new AtomicLong();
      long cpu0 = cpuNanos();
      long wall0 = System.nanoTime();
      List<Long> timers = new ArrayList<>();
      for (int i = 0; i < n; i++) {
        String id = running.get(i);
        long[] done = {0};
        // Spread the operations' ticks over one period so the reports arrive evenly, not in bursts.
        long offset = Math.max(1, periodMs * i / n);
        vertx.setTimer(offset, t0 -> timers.add(vertx.setPeriodic(periodMs, t -> {
          done[0] = Math.min(total, done[0] + 4_000_000);
          Instant now = Instant.now();
          long micros = now.getEpochSecond() * 1_000_000L + now.getNano() / 1_000;
          vertx.eventBus().send(OPS_REPORT, new JsonObject()
              .put(OPERATION_ID, id).put(ATTEMPT, 1).put(STAGE, "downloading").put(KIND, KIND_PROGRESS)
              .put(BYTES_DONE, done[0]).put(BYTES_TOTAL, total)
              .put(CURRENT_FILE, "model.safetensors").put(FILES_DONE, 0).put(FILES_TOTAL, 1)
              .put(MESSAGE, "t=" + micros));
          sent.incrementAndGet();
        })));
      }
      vertx.setTimer((long) (seconds * 1000), t -> {
        timers.forEach(vertx::cancelTimer);
        double wall = (System.nanoTime() - wall0) / 1e9;
        ctx.json(new JsonObject().put("reports", sent.get()).put("wall_s", wall)
            .put("cpu_s", (cpuNanos() - cpu0) / 1e9).put("operations", n).put("per_op_hz", 1000.0 / periodMs));
      });
    }

    private void cancelAll(RoutingContext ctx) {
      List<String> order = new ArrayList<>();
      ids.stream().filter(id -> !running.contains(id)).forEach(order::add); // queued first: nothing starts in between
      order.addAll(running);
      Future<Void> chain = Future.succeededFuture();
      AtomicLong cancelled = new AtomicLong();
      for (String id : order) {
        chain = chain.compose(v -> request(OPS_CANCEL, new JsonObject().put(OPERATION_ID, id))
            .map(op -> {
              cancelled.incrementAndGet();
              return (Void) null;
            }).recover(err -> Future.succeededFuture()));
      }
      chain.onSuccess(v -> ctx.json(new JsonObject().put("cancelled", cancelled.get()).put("operations", order.size())));
    }

    /** Removes the (finished) operations of the last /bench/ops from the registry. */
    private void deleteAll(RoutingContext ctx) {
      List<Future<JsonObject>> deletes = new ArrayList<>();
      ids.forEach(id -> deletes.add(request(OPS_DELETE, new JsonObject().put(OPERATION_ID, id))));
      Future.join(deletes).onComplete(ar -> {
        long ok = deletes.stream().filter(Future::succeeded).count();
        ids.clear();
        running.clear();
        ctx.json(new JsonObject().put("deleted", ok));
      });
    }

    /**
     * OPS operations with LOGS log lines each, then each fails; heap used (after full GCs) before and
     * after. Runs in batches no larger than HOIST_MAX_CONCURRENT so every operation runs (a queued one
     * takes no reports).
     */
    private void memory(RoutingContext ctx) {
      int ops = Integer.parseInt(ctx.queryParams().get("ops"));
      int logs = Integer.parseInt(ctx.queryParams().get("logs"));
      int batch = Math.max(1, Math.min(ops, Integer.parseInt(String.valueOf(config.getValue("HOIST_MAX_CONCURRENT", "2")))));
      long wall0 = System.nanoTime();
      heap().compose(before -> memoryBatches(0, ops, batch, logs).compose(v -> {
        // Let the registry write the last changes to its database before measuring.
        Promise<Void> settle = Promise.promise();
        vertx.setTimer(2000, t -> settle.complete());
        return settle.future();
      }).compose(v -> heap()).map(after -> new JsonObject()
          .put("heap_before", before).put("heap_after", after).put("operations", ops).put("logs_per_operation", logs)
          .put("wall_s", (System.nanoTime() - wall0) / 1e9)))
          .onSuccess(ctx::json).onFailure(ctx::fail);
    }

    private Future<Void> memoryBatches(int from, int ops, int batch, int logs) {
      if (from >= ops) {
        return Future.succeededFuture();
      }
      int to = Math.min(ops, from + batch);
      List<Future<JsonObject>> created = new ArrayList<>();
      for (int i = from; i < to; i++) {
        created.add(request(OPS_CREATE, new JsonObject().put(MODEL_NAME, "bench/mem-" + i)));
      }
      return Future.all(created).compose(all -> {
        List<String> batchIds = new ArrayList<>();
        JsonObject error = new HoistException(ErrorCode.HUB_UNREACHABLE, "benchmark: failed on purpose", true, null).toJson();
        for (Future<JsonObject> f : created) {
          String id = f.result().getString(OPERATION_ID);
          if ("queued".equals(f.result().getString(STATUS))) {
            return Future.failedFuture("operation " + id + " was queued: raise HOIST_MAX_CONCURRENT or lower the batch");
          }
          batchIds.add(id);
          for (int l = 0; l < logs; l++) {
            vertx.eventBus().send(OPS_REPORT, new JsonObject()
                .put(OPERATION_ID, id).put(ATTEMPT, 1).put(STAGE, "initializing").put(KIND, KIND_PROGRESS)
                .put(LOG, String.format("Downloading model-%05d-of-00100.safetensors: %d of 100, 4.2 GiB at 112.5 MB/s", l, l)));
          }
          vertx.eventBus().send(OPS_REPORT, new JsonObject()
              .put(OPERATION_ID, id).put(ATTEMPT, 1).put(STAGE, "initializing").put(KIND, KIND_FAILED).put(ERROR, error));
        }
        return waitFinished(batchIds, 0).compose(v -> {
          // The download stage still retries the unreachable hub for these: stop it, as a cancel would.
          List<Future<JsonObject>> stops = new ArrayList<>();
          batchIds.forEach(id -> stops.add(request(DOWNLOAD_CANCEL, new JsonObject().put(OPERATION_ID, id))));
          return Future.all(stops).mapEmpty();
        });
      }).compose(v -> memoryBatches(to, ops, batch, logs));
    }

    private Future<Void> waitFinished(List<String> batchIds, int tries) {
      List<Future<JsonObject>> states = new ArrayList<>();
      batchIds.forEach(id -> states.add(request(OPS_GET, new JsonObject().put(OPERATION_ID, id))));
      return Future.all(states).compose(all -> {
        boolean done = states.stream().allMatch(f -> "error".equals(f.result().getString(STATUS)));
        if (done) {
          return Future.succeededFuture();
        }
        if (tries > 600) {
          return Future.failedFuture("operations did not fail within 60 s");
        }
        Promise<Void> later = Promise.promise();
        vertx.setTimer(100, t -> waitFinished(batchIds, tries + 1).onComplete(later));
        return later.future();
      });
    }
  }
}
