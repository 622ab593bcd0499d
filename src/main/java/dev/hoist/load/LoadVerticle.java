package dev.hoist.load;

import static dev.hoist.contract.EventBusContract.*;

import dev.hoist.HoistConfig;
import dev.hoist.contract.ErrorCode;
import dev.hoist.contract.Failures;
import dev.hoist.contract.HoistException;
import dev.hoist.contract.StageReporter;
import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import io.vertx.core.Vertx;
import io.vertx.core.WorkerExecutor;
import io.vertx.core.eventbus.EventBus;
import io.vertx.core.eventbus.Message;
import io.vertx.core.eventbus.MessageConsumer;
import io.vertx.core.http.HttpClient;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The load stage: validates a downloaded model and brings it into memory — paged into this
 * process, or handed to a native LLM service — reporting progress from the bytes loaded. Keeps the
 * models it loaded resident until unloaded, and publishes them to {@link LoadedModels} for an
 * application that embeds Hoist.
 *
 * <p>Addresses: {@code hoist.load.start}, {@code .cancel}, {@code .unload}, {@code .resident}.
 */
public class LoadVerticle extends VerticleBase {

  private static final Logger log = LoggerFactory.getLogger(LoadVerticle.class);

  private final List<MessageConsumer<?>> consumers = new ArrayList<>();
  private final Map<String, ResidentModel> resident = new LinkedHashMap<>();
  /** Running jobs by operation id. */
  private final Map<String, LoadJob> active = new LinkedHashMap<>();
  private static final long KEEP_ALIVE_CHECK_MS = 500;
  private long keepAliveTimer = -1;
  private HoistConfig settings;
  private WorkerExecutor pager;
  private HttpClient http;

  @Override
  public Future<?> start() {
    settings = new HoistConfig(config()).validate().validateLoad();
    pager = vertx.createSharedWorkerExecutor("hoist-load-pager", 2);
    // No keep-alive: a health URL's port may belong to a new process the next time.
    http = vertx.createHttpClient(new HttpClientOptions().setKeepAlive(false));
    EventBus bus = vertx.eventBus();
    consumers.add(bus.<JsonObject>localConsumer(LOAD_START, this::start));
    consumers.add(bus.<JsonObject>localConsumer(LOAD_CANCEL, this::cancel));
    consumers.add(bus.<JsonObject>localConsumer(LOAD_UNLOAD, this::unload));
    consumers.add(bus.<JsonObject>localConsumer(LOAD_TOUCH, this::touch));
    keepAliveTimer = vertx.setPeriodic(KEEP_ALIVE_CHECK_MS, t -> unloadIdle());
    consumers.add(bus.<JsonObject>localConsumer(LOAD_RESIDENT, this::listResident));
    consumers.add(bus.<JsonObject>localConsumer(PING_PREFIX + VERTICLE_LOAD,
        m -> m.reply(new JsonObject().put(VERTICLE, VERTICLE_LOAD))));
    return Future.all(consumers.stream().map(MessageConsumer::completion).toList());
  }

  private void start(Message<JsonObject> msg) {
    JsonObject command = msg.body();
    String opId = stringField(command, OPERATION_ID);
    if (opId == null || stringField(command, MODEL_KEY) == null || !(command.getValue(FILES) instanceof JsonArray)) {
      Failures.reply(msg, new HoistException(ErrorCode.BAD_REQUEST, "operation_id, model_key and files are required"));
      return;
    }
    msg.reply(new JsonObject().put(ACCEPTED, true));
    LoadJob previous = active.remove(opId);
    if (previous != null) { // a new attempt of the same operation supersedes the old one
      previous.cancel();
    }
    StageReporter reporter = new StageReporter(vertx, opId, command.getInteger(ATTEMPT, 1), "loading", settings.progressIntervalMs());
    LoadJob job = new LoadJob(this, reporter, command, pager);
    active.put(opId, job);
    job.run().onComplete(ar -> {
      active.remove(opId, job);
      if (job.isCancelled()) {
        log.info("Load for operation {} cancelled", opId);
        return; // the canceller was told; no report follows a cancel
      }
      if (ar.succeeded()) {
        reporter.completed(ar.result(), new JsonObject());
      } else {
        HoistException error = Failures.toHoist(ar.cause());
        if (error.code() == ErrorCode.INTERNAL) {
          log.error("Load for operation {} failed", opId, ar.cause());
        }
        reporter.failed(error);
      }
    });
  }

  /** {@code {operation_id}} → {@code {cancelled}} once the job has stopped (paging, or the native service). */
  private void cancel(Message<JsonObject> msg) {
    String opId = stringField(msg.body(), OPERATION_ID);
    LoadJob job = opId == null ? null : active.get(opId);
    if (job == null) {
      msg.reply(new JsonObject().put(CANCELLED, false));
      return;
    }
    log.info("Cancelling the load of operation {}", opId);
    job.cancel().onComplete(ar -> msg.reply(new JsonObject().put(CANCELLED, true)));
  }

  /** {@code {repo}} → {@code {touched}}: the repo's resident models count as used now. */
  private void touch(Message<JsonObject> msg) {
    Object repo = msg.body() == null ? null : msg.body().getValue(REPO);
    JsonArray touched = new JsonArray();
    for (ResidentModel m : resident.values()) {
      if (m.repo.equals(repo)) {
        m.lastUsed = java.time.Instant.now();
        touched.add(m.key);
      }
    }
    if (touched.isEmpty()) {
      Failures.reply(msg, new HoistException(ErrorCode.MODEL_NOT_LOADED, "no model of " + repo + " is loaded"));
    } else {
      msg.reply(new JsonObject().put("touched", touched));
    }
  }

  /** Keep-alive: a resident model unused for longer than its keep-alive is unloaded, unless pinned. */
  private void unloadIdle() {
    java.time.Instant now = java.time.Instant.now();
    for (ResidentModel m : new ArrayList<>(resident.values())) {
      long idleMs = java.time.Duration.between(m.lastUsed, now).toMillis();
      if (!m.pinned && m.keepAliveMs >= 0 && idleMs > m.keepAliveMs) {
        log.info("Model {} unused for {} s (keep-alive {} s): unloading", m.key, idleMs / 1000, m.keepAliveMs / 1000.0);
        release(m, "idle", idleMs);
      }
    }
  }

  /** Unloads a model on Hoist's own initiative and tells everyone who watches. */
  Future<Long> release(ResidentModel m, String reason, long idleMs) {
    return drop(m).onSuccess(bytes -> vertx.eventBus().publish(MODELS_EVENTS, new JsonObject()
        .put("event", "unloaded").put("reason", reason).put(MODEL_KEY, m.key).put(REPO, m.repo)
        .put(BYTES_RELEASED, bytes).put("idle_seconds", idleMs / 1000).put(NODE, settings.nodeName())));
  }

  /**
   * Eviction for memory: the least recently used unpinned models (not {@code keep}) whose bytes
   * together cover {@code needed}, or an empty list when even all of them would not.
   */
  List<ResidentModel> evictionCandidates(long needed, String keep) {
    List<ResidentModel> lru = resident.values().stream()
        .filter(m -> !m.pinned && !m.key.equals(keep))
        .sorted(java.util.Comparator.comparing((ResidentModel m) -> m.lastUsed))
        .toList();
    List<ResidentModel> chosen = new ArrayList<>();
    long freed = 0;
    for (ResidentModel m : lru) {
      if (freed >= needed) {
        break;
      }
      chosen.add(m);
      freed += m.bytes;
    }
    return freed >= needed ? chosen : List.of();
  }

  /** {@code {repo}} → {@code {unloaded, bytes_released}}; 404 {@code model_not_loaded} when none is resident. */
  private void unload(Message<JsonObject> msg) {
    Object repo = msg.body() == null ? null : msg.body().getValue(REPO);
    if (!(repo instanceof String) || ((String) repo).isBlank()) {
      Failures.reply(msg, new HoistException(ErrorCode.BAD_REQUEST, "repo is required"));
      return;
    }
    List<ResidentModel> models = resident.values().stream().filter(m -> m.repo.equals(repo)).toList();
    if (models.isEmpty()) {
      Failures.reply(msg, new HoistException(ErrorCode.MODEL_NOT_LOADED, "no model of " + repo + " is loaded"));
      return;
    }
    JsonArray keys = new JsonArray();
    List<Future<Long>> releases = new ArrayList<>();
    for (ResidentModel m : models) {
      keys.add(m.key);
      releases.add(drop(m));
    }
    Future.join(releases).onComplete(ar -> {
      long bytes = releases.stream().filter(Future::succeeded).mapToLong(Future::result).sum();
      msg.reply(new JsonObject().put(UNLOADED, keys).put(BYTES_RELEASED, bytes));
    });
  }

  /**
   * Forgets a resident model at once (no new load or reader finds it), then releases its memory on
   * a worker: unmapping, or stopping the native service's processes. Completes with the bytes released.
   */
  private Future<Long> drop(ResidentModel m) {
    resident.remove(m.key);
    LoadedModels.map(vertx).remove(m.key);
    boolean atOnce = m.unmapsAtOnce();
    Future<Long> released = vertx.executeBlocking(m::release, false);
    if (m.isNative()) {
      released = released.compose(bytes -> m.nativeService.stop(settings.nativeKillGraceMs()).map(bytes));
    }
    return released.onSuccess(bytes -> log.info("Model {} unloaded: {} bytes released{}", m.key, bytes,
        m.isNative() ? " (native service pid " + m.nativeService.pid() + " stopped)"
            : atOnce ? " (unmapped)" : " (unmapped once the tensor views handed out are garbage collected)"));
  }

  /**
   * The resident models. A native service's footprint is in another process: its resident set
   * (VmRSS of its process tree, read from procfs on a worker) is added as {@code native.rss_bytes}.
   */
  private void listResident(Message<JsonObject> msg) {
    List<ResidentModel> models = new ArrayList<>(resident.values());
    List<NativeService> services = models.stream().filter(ResidentModel::isNative).map(m -> m.nativeService).toList();
    Future<List<Long>> rss = services.isEmpty() ? Future.succeededFuture(List.of())
        : vertx.executeBlocking(() -> services.stream().map(NativeService::residentBytes).toList(), false);
    rss.onComplete(ar -> {
      JsonArray out = new JsonArray();
      int i = 0;
      for (ResidentModel m : models) {
        JsonObject json = m.toJson();
        if (m.isNative() && ar.succeeded()) {
          long bytes = ar.result().get(i++);
          json.getJsonObject(NATIVE).put("rss_bytes", bytes < 0 ? null : bytes);
        }
        out.add(json);
      }
      msg.reply(new JsonObject().put(MODELS, out));
    });
  }

  private static String stringField(JsonObject body, String name) {
    Object value = body == null ? null : body.getValue(name);
    return value instanceof String ? (String) value : null;
  }

  ResidentModel resident(String key) {
    return resident.get(key);
  }

  /**
   * Keep-alive and pinning from the load command (a catalog entry's {@code keep_alive} and
   * {@code pinned}) or HOIST_KEEP_ALIVE; a (re)load counts as a use.
   */
  ResidentModel applyPolicy(ResidentModel model, JsonObject command) {
    Object keepAlive = command.getValue(KEEP_ALIVE);
    model.keepAliveMs = keepAlive == null ? settings.keepAliveMs() : HoistConfig.parseDurationMs("keep_alive", keepAlive);
    model.pinned = Boolean.TRUE.equals(command.getValue(PINNED));
    model.lastUsed = java.time.Instant.now();
    return model;
  }

  void register(ResidentModel model) {
    resident.put(model.key, model);
    LoadedModels.map(vertx).put(model.key, new LoadedModel(model));
    log.info("Model {} resident: {} bytes{}", model.key, model.bytes,
        model.isNative() ? " in native service pid " + model.nativeService.pid() : "");
    if (model.isNative()) {
      // A service that dies later is no longer a loaded model.
      model.nativeService.exited().onSuccess(code -> {
        if (resident.get(model.key) == model) {
          log.warn("Native service of {} (pid {}) exited with code {}; the model is no longer loaded",
              model.key, model.nativeService.pid(), code);
          drop(model); // also stops its children, if any are left
        }
      });
    }
  }

  /** Bytes held by resident models and by the other running jobs: what counts against the memory limit. */
  long bytesHeld(LoadJob except) {
    long held = resident.values().stream().mapToLong(m -> m.bytes).sum();
    for (LoadJob job : active.values()) {
      if (job != except && resident.get(job.key()) == null) {
        held += job.reservedBytes();
      }
    }
    return held;
  }

  HoistConfig settings() {
    return settings;
  }

  Vertx vertx() {
    return vertx;
  }

  HttpClient http() {
    return http;
  }

  @Override
  public Future<?> stop() {
    vertx.cancelTimer(keepAliveTimer);
    List<Future<?>> stops = new ArrayList<>();
    new ArrayList<>(active.values()).forEach(job -> stops.add(job.cancel()));
    for (ResidentModel m : new ArrayList<>(resident.values())) {
      stops.add(drop(m));
    }
    return Future.join(stops)
        .transform(ar -> Future.all(consumers.stream().map(MessageConsumer::unregister).toList()))
        .compose(v -> http.close())
        .compose(v -> pager.close());
  }
}
