package dev.hoist.registry;

import static dev.hoist.contract.EventBusContract.*;

import dev.hoist.HoistConfig;
import dev.hoist.contract.ErrorCode;
import dev.hoist.contract.Failures;
import dev.hoist.contract.HoistException;
import dev.hoist.contract.ModelRef;
import dev.hoist.contract.OperationStatus;
import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import io.vertx.core.eventbus.DeliveryOptions;
import io.vertx.core.eventbus.EventBus;
import io.vertx.core.eventbus.Message;
import io.vertx.core.eventbus.MessageConsumer;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The only owner of operation state, and the coordinator of each operation's stages. Stages receive
 * a command, report progress on {@link dev.hoist.contract.EventBusContract#OPS_REPORT}, and finish
 * with a completed or failed report; the registry maps their raw facts into the seed's progress
 * bands and publishes every change on {@link dev.hoist.contract.EventBusContract#OPS_UPDATES}.
 */
public class RegistryVerticle extends VerticleBase {

  private static final Logger log = LoggerFactory.getLogger(RegistryVerticle.class);
  private static final long TICK_MS = 1_000;

  private final Map<String, Operation> operations = new LinkedHashMap<>();
  private final List<MessageConsumer<?>> consumers = new ArrayList<>();
  private HoistConfig config;
  private ModelCatalog catalog;
  private DeliveryOptions requestOptions;

  @Override
  public Future<?> start() {
    config = new HoistConfig(config()).validate();
    requestOptions = new DeliveryOptions().setSendTimeout(config.requestTimeoutMs());
    return loadCatalog(config.modelsFile()).map(c -> {
      catalog = c;
      EventBus bus = vertx.eventBus();
      consumers.add(bus.<JsonObject>consumer(OPS_CREATE, this::create));
      consumers.add(bus.<JsonObject>consumer(OPS_GET, this::get));
      consumers.add(bus.<JsonObject>consumer(OPS_LIST, this::list));
      consumers.add(bus.<JsonObject>consumer(OPS_DELETE, this::delete));
      consumers.add(bus.<JsonObject>consumer(OPS_REPORT, this::report));
      consumers.add(bus.<JsonObject>consumer(MODELS_LIST, this::listModels));
      consumers.add(bus.<JsonObject>consumer(MODELS_UNLOAD, this::unloadModel));
      consumers.add(bus.<JsonObject>consumer(PING_PREFIX + VERTICLE_REGISTRY,
          m -> m.reply(new JsonObject().put(VERTICLE, VERTICLE_REGISTRY))));
      vertx.setPeriodic(TICK_MS, id -> tick());
      long cleanupEveryMs = Math.min(30_000, Math.max(1_000, config.progressCleanupIntervalSeconds() * 1000 / 4));
      vertx.setPeriodic(cleanupEveryMs, id -> cleanup());
      return c;
    }).compose(c -> Future.all(consumers.stream().map(MessageConsumer::completion).toList()));
  }

  /** The catalog file if it exists, else the copy packaged in the jar. */
  private Future<ModelCatalog> loadCatalog(String file) {
    return vertx.executeBlocking(() -> {
      Path path = Paths.get(file);
      String text;
      if (Files.isRegularFile(path)) {
        text = Files.readString(path, StandardCharsets.UTF_8);
      } else {
        try (InputStream in = RegistryVerticle.class.getClassLoader().getResourceAsStream(file)) {
          if (in == null) {
            throw new IllegalArgumentException("model catalog " + path.toAbsolutePath() + " does not exist");
          }
          text = new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
      }
      ModelCatalog parsed = ModelCatalog.parse(new JsonObject(text));
      log.info("Model catalog: {} aliases from {}", parsed.entries().size(), file);
      return parsed;
    });
  }

  // ------------------------------------------------------------------ requests

  private void create(Message<JsonObject> msg) {
    try {
      LoadRequest request = LoadRequest.parse(msg.body());
      ModelCatalog.Entry entry = catalog.resolve(request.modelName);
      if (request.revision != null) {
        entry = entry.atRevision(request.revision);
      }
      Instant now = Instant.now();
      Operation op = new Operation(UUID.randomUUID().toString(), request.modelName, entry, now, config.maxProgressEntries());
      op.options = request.options;
      op.message = "Starting model loading for " + request.modelName;
      op.log(now, LEVEL_INFO, "Model loading requested: " + request.modelName + " (" + entry.ref + " on hub '" + entry.hub + "')"
          + (request.options.isEmpty() ? "" : " with options " + request.options.encode()));
      operations.put(op.id, op);
      log.info("Operation {} created for {} ({})", op.id, request.modelName, entry.ref);
      publish(op);
      msg.reply(op.toJson());
      startDownload(op);
    } catch (RuntimeException e) {
      Failures.reply(msg, e);
    }
  }

  private void get(Message<JsonObject> msg) {
    try {
      msg.reply(find(msg.body()).toJson());
    } catch (RuntimeException e) {
      Failures.reply(msg, e);
    }
  }

  private void list(Message<JsonObject> msg) {
    List<Operation> newestFirst = new ArrayList<>(operations.values());
    java.util.Collections.reverse(newestFirst);
    JsonArray array = new JsonArray();
    newestFirst.forEach(op -> array.add(op.toJson()));
    msg.reply(new JsonObject().put(OPERATIONS, array));
  }

  private void delete(Message<JsonObject> msg) {
    try {
      Operation op = find(msg.body());
      if (op.isActive()) {
        throw new HoistException(ErrorCode.OPERATION_ACTIVE, "operation " + op.id + " is still " + op.status.wireName()
            + "; its progress data can be cleared once it has finished");
      }
      remove(op);
      msg.reply(new JsonObject());
    } catch (RuntimeException e) {
      Failures.reply(msg, e);
    }
  }

  private Operation find(JsonObject body) {
    Object id = body == null ? null : body.getValue(OPERATION_ID);
    Operation op = id instanceof String ? operations.get(id) : null;
    if (op == null) {
      throw new HoistException(ErrorCode.NOT_FOUND, "no operation with id '" + ModelRef.abbreviate(String.valueOf(id)) + "'");
    }
    return op;
  }

  /** The catalog, with whether each model is in the cache (download stage) and in memory (load stage). */
  private void listModels(Message<JsonObject> msg) {
    JsonArray query = new JsonArray();
    for (ModelCatalog.Entry e : catalog.entries()) {
      query.add(new JsonObject().put(REPO, e.ref.repo).put(REVISION, e.ref.revision).put(HUB, e.hub));
    }
    Future<JsonObject> cached = vertx.eventBus().<JsonObject>request(DOWNLOAD_CACHED, new JsonObject().put(MODELS, query), requestOptions)
        .map(Message::body);
    Future<JsonObject> resident = vertx.eventBus().<JsonObject>request(LOAD_RESIDENT, new JsonObject(), requestOptions)
        .map(Message::body);
    Future.join(cached, resident).onComplete(ar -> {
      JsonArray cachedModels = cached.succeeded() ? cached.result().getJsonArray(MODELS, new JsonArray()) : new JsonArray();
      JsonArray residentModels = resident.succeeded() ? resident.result().getJsonArray(MODELS, new JsonArray()) : new JsonArray();
      JsonArray out = new JsonArray();
      List<ModelCatalog.Entry> entries = catalog.entries();
      for (int i = 0; i < entries.size(); i++) {
        ModelCatalog.Entry e = entries.get(i);
        JsonObject model = e.json.copy();
        Boolean downloaded = i < cachedModels.size() ? cachedModels.getJsonObject(i).getBoolean(DOWNLOADED) : null;
        model.put(DOWNLOADED, downloaded);
        JsonObject loaded = null;
        for (int j = 0; j < residentModels.size(); j++) {
          if (e.ref.repo.equals(residentModels.getJsonObject(j).getString(REPO))) {
            loaded = residentModels.getJsonObject(j);
          }
        }
        model.put(LOADED, resident.succeeded() ? loaded != null : null);
        if (loaded != null) {
          model.put("resident", loaded);
        }
        out.add(model);
      }
      msg.reply(new JsonObject().put(MODELS, out));
    });
  }

  /** Resolves a model name to its repo and asks the load stage to release it. */
  private void unloadModel(Message<JsonObject> msg) {
    try {
      Object name = msg.body() == null ? null : msg.body().getValue(MODEL_NAME);
      if (!(name instanceof String) || ((String) name).isBlank()) {
        throw new HoistException(ErrorCode.BAD_REQUEST, "model_name is required");
      }
      ModelCatalog.Entry entry = catalog.resolve((String) name);
      vertx.eventBus().<JsonObject>request(LOAD_UNLOAD, new JsonObject().put(REPO, entry.ref.repo), requestOptions)
          .onSuccess(reply -> msg.reply(reply.body().put(MODEL_NAME, name).put(REPO, entry.ref.repo)))
          .onFailure(err -> Failures.reply(msg, err));
    } catch (RuntimeException e) {
      Failures.reply(msg, e);
    }
  }

  // ------------------------------------------------------------------ stage sequence

  private void startDownload(Operation op) {
    JsonObject command = new JsonObject()
        .put(OPERATION_ID, op.id)
        .put(ATTEMPT, op.attempt)
        .put(REPO, op.entry.ref.repo)
        .put(REVISION, op.entry.ref.revision)
        .put(HUB, op.entry.hub)
        .put(OPTIONS, op.options.copy());
    vertx.eventBus().request(DOWNLOAD_START, command, requestOptions)
        .onFailure(err -> fail(op, op.attempt, Failures.toHoist(err)));
  }

  private void startLoad(Operation op) {
    JsonObject command = new JsonObject()
        .put(OPERATION_ID, op.id)
        .put(ATTEMPT, op.attempt)
        .put(REPO, op.entry.ref.repo)
        .put(COMMIT, op.commit)
        .put(MODEL_KEY, op.entry.ref.repo + "@" + op.commit)
        .put(SNAPSHOT_DIR, op.downloadResult.getString(SNAPSHOT_DIR))
        .put(FILES, op.downloadResult.getJsonArray(FILES));
    JsonObject nativeService = op.entry.json.getJsonObject(NATIVE);
    if (nativeService != null) {
      command.put(NATIVE, nativeService.copy());
    }
    vertx.eventBus().request(LOAD_START, command, requestOptions)
        .onFailure(err -> fail(op, op.attempt, Failures.toHoist(err)));
  }

  /** Everything the stages say about an operation arrives here. */
  private void report(Message<JsonObject> msg) {
    JsonObject r = msg.body();
    Operation op = operations.get(r.getString(OPERATION_ID));
    int attempt = r.getInteger(ATTEMPT, 0);
    if (op == null || attempt != op.attempt || !op.isActive()) {
      return; // a late report of a finished, removed or superseded run
    }
    String kind = r.getString(KIND, KIND_PROGRESS);
    try {
      OperationStatus stage = OperationStatus.fromWire(r.getString(STAGE, op.status.wireName()));
      switch (kind) {
        case KIND_PROGRESS:
          applyProgress(op, stage, r);
          publish(op);
          break;
        case KIND_COMPLETED:
          completeStage(op, stage, r);
          break;
        case KIND_FAILED:
          applyLog(op, r);
          fail(op, attempt, HoistException.fromJson(r.getJsonObject(ERROR, new JsonObject())));
          break;
        default:
          log.warn("Ignoring report of unknown kind '{}' for {}", kind, op.id);
      }
    } catch (RuntimeException e) {
      log.error("Bad report for operation {}: {}", op.id, r.encode(), e);
      fail(op, attempt, new HoistException(ErrorCode.INTERNAL, "internal error while recording progress: " + e.getMessage()));
    }
  }

  private void applyProgress(Operation op, OperationStatus stage, JsonObject r) {
    long now = System.nanoTime();
    if (stage.ordinal() > op.status.ordinal() && !stage.isFinished()) {
      op.enter(stage, now);
    }
    if (r.containsKey(COMMIT)) {
      op.commit = r.getString(COMMIT);
    }
    if (r.containsKey(FILES)) {
      op.files = r.getJsonArray(FILES).copy();
    }
    if (r.containsKey(FILES_TOTAL)) {
      op.filesTotal = r.getInteger(FILES_TOTAL);
    }
    if (r.containsKey(FILES_DONE)) {
      op.filesDone = r.getInteger(FILES_DONE);
    }
    if (r.containsKey(CURRENT_FILE)) {
      op.currentFile = r.getString(CURRENT_FILE);
    }
    if (r.containsKey(FILE_PROGRESS)) {
      Map<String, Long> done = new HashMap<>();
      r.getJsonObject(FILE_PROGRESS).forEach(e -> done.put(e.getKey(), ((Number) e.getValue()).longValue()));
      op.updateFiles(done);
    }
    if (r.containsKey(BYTES_TOTAL) || r.containsKey(BYTES_DONE)) {
      op.updateBytes(r.getLong(BYTES_DONE, op.bytesDone), r.getLong(BYTES_TOTAL, op.bytesTotal), now);
    }
    if (r.containsKey(STALLED)) {
      op.stalled = r.getBoolean(STALLED, false);
      op.stalledSeconds = op.stalled ? r.getLong(STALLED_SECONDS, 0L) : null;
    }
    if (r.containsKey(PROGRESS)) {
      // A stage may state its own fraction of work (0..1) when it has no byte counts.
      op.raiseProgress(op.status.progressAt(r.getDouble(PROGRESS)));
    }
    if (r.containsKey(MESSAGE)) {
      op.message = r.getString(MESSAGE);
    }
    applyLog(op, r);
  }

  private void applyLog(Operation op, JsonObject r) {
    String line = r.getString(LOG);
    if (line != null) {
      op.log(Instant.now(), r.getString(LOG_LEVEL, LEVEL_INFO), line);
    }
  }

  private void completeStage(Operation op, OperationStatus stage, JsonObject r) {
    applyProgress(op, stage, r);
    JsonObject result = r.getJsonObject(RESULT, new JsonObject());
    long now = System.nanoTime();
    if (stage == OperationStatus.DOWNLOADING || stage == OperationStatus.INITIALIZING) {
      op.downloadResult = result;
      op.commit = result.getString(COMMIT, op.commit);
      op.filesDone = op.filesTotal;
      op.raiseProgress(OperationStatus.DOWNLOADING.bandEnd);
      op.enter(OperationStatus.LOADING, now);
      op.message = "Loading model into memory";
      op.log(Instant.now(), LEVEL_INFO, "Download complete; loading into memory");
      publish(op);
      startLoad(op);
    } else if (stage == OperationStatus.LOADING) {
      finalizeOperation(op, result);
    }
  }

  /** Finalizing: records the loaded model's summary on the operation, then completes it. */
  private void finalizeOperation(Operation op, JsonObject summary) {
    Instant now = Instant.now();
    op.raiseProgress(OperationStatus.LOADING.bandEnd);
    // The stage detail keeps the load's totals: what a finished operation moved stays visible.
    op.status = OperationStatus.FINALIZING;
    op.stageName = OperationStatus.FINALIZING.wireName();
    op.bytesPerSecond = 0;
    op.currentFile = null;
    op.message = "Finalizing";
    op.log(now, LEVEL_INFO, "Finalizing: verifying the loaded model");
    publish(op);

    op.summary = summary.copy();
    op.log(now, LEVEL_INFO, "Summary: " + describe(summary));
    op.raiseProgress(OperationStatus.FINALIZING.bandEnd);
    op.message = "Model summary recorded";
    publish(op);

    op.status = OperationStatus.COMPLETED;
    op.stageName = OperationStatus.COMPLETED.wireName();
    op.progress = 100;
    op.finishedAt = now;
    op.message = "Model " + op.modelName + " is loaded and ready";
    op.log(now, LEVEL_INFO, "Completed in " + human(Duration.between(op.createdAt, now)));
    log.info("Operation {} completed: {}", op.id, op.modelName);
    publish(op);
  }

  private static String describe(JsonObject s) {
    StringBuilder b = new StringBuilder();
    if (s.getString("architecture") != null) {
      b.append(s.getString("architecture")).append(", ");
    }
    b.append(s.getValue("tensors")).append(" tensors, ")
        .append(s.getValue("parameters")).append(" parameters, dtypes ")
        .append(s.getValue("dtypes")).append(", ")
        .append(s.getValue("bytes_resident")).append(" bytes resident");
    if (s.getValue("context_length") != null) {
      b.append(", context length ").append(s.getValue("context_length"));
    }
    return b.toString();
  }

  private static String human(Duration d) {
    long ms = d.toMillis();
    return ms < 10_000 ? String.format("%.1f s", ms / 1000.0) : (ms / 60_000) + " min " + (ms / 1000 % 60) + " s";
  }

  private void fail(Operation op, int attempt, HoistException error) {
    if (!op.isActive() || attempt != op.attempt) {
      return;
    }
    Instant now = Instant.now();
    op.status = OperationStatus.ERROR;
    op.error = error;
    op.message = error.getMessage();
    op.finishedAt = now;
    op.bytesPerSecond = 0;
    op.log(now, LEVEL_ERROR, error.getMessage());
    log.warn("Operation {} failed ({}): {}", op.id, error.code().wireName(), error.getMessage());
    publish(op);
  }

  // ------------------------------------------------------------------ changes

  private void publish(Operation op) {
    op.seq++;
    op.updatedAt = Instant.now();
    vertx.eventBus().publish(OPS_UPDATES, op.toJson());
  }

  private void remove(Operation op) {
    operations.remove(op.id);
    op.seq++;
    vertx.eventBus().publish(OPS_UPDATES, new JsonObject().put(OPERATION_ID, op.id).put(SEQ, op.seq).put(REMOVED, true));
  }

  /** Lets rates decay while no bytes arrive, so a stall is visible. */
  private void tick() {
    long now = System.nanoTime();
    for (Operation op : operations.values()) {
      if ((op.status == OperationStatus.DOWNLOADING || op.status == OperationStatus.LOADING)
          && Duration.between(op.updatedAt, Instant.now()).toMillis() >= TICK_MS && op.refreshRate(now)) {
        publish(op);
      }
    }
  }

  /** PROGRESS_CLEANUP_INTERVAL: finished operations older than that leave the live list. */
  private void cleanup() {
    Instant cutoff = Instant.now().minusSeconds(config.progressCleanupIntervalSeconds());
    List<Operation> expired = new ArrayList<>();
    for (Iterator<Operation> it = operations.values().iterator(); it.hasNext(); ) {
      Operation op = it.next();
      if (!op.isActive() && op.finishedAt != null && op.finishedAt.isBefore(cutoff)) {
        expired.add(op);
      }
    }
    expired.forEach(op -> {
      log.info("Cleanup: dropping finished operation {} ({})", op.id, op.status.wireName());
      remove(op);
    });
  }

  @Override
  public Future<?> stop() {
    return Future.all(consumers.stream().map(MessageConsumer::unregister).toList());
  }
}
