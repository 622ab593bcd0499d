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
import io.vertx.core.WorkerExecutor;
import io.vertx.core.eventbus.DeliveryOptions;
import io.vertx.core.eventbus.EventBus;
import io.vertx.core.eventbus.Message;
import io.vertx.core.eventbus.MessageConsumer;
import io.vertx.core.eventbus.ReplyException;
import io.vertx.core.eventbus.ReplyFailure;
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
import java.util.Collections;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.StringJoiner;
import java.util.UUID;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The only owner of operation state, and the coordinator of each operation's stages. Stages receive
 * a command, report progress on {@link dev.hoist.contract.EventBusContract#OPS_REPORT}, and finish
 * with a completed or failed report; the registry maps their raw facts into the seed's progress
 * bands, publishes every change on {@link dev.hoist.contract.EventBusContract#OPS_UPDATES}, runs at
 * most HOIST_MAX_CONCURRENT operations at once (the others queue), and keeps every operation in an
 * embedded database so a restart resumes what was running.
 */
public class RegistryVerticle extends VerticleBase {

  private static final Logger log = LoggerFactory.getLogger(RegistryVerticle.class);
  private static final long TICK_MS = 1_000;
  private static final int MAX_HISTORY = 1_000;
  private static final int STATS_WINDOW = 10_000;
  private static final long STAGE_WAIT_MS = 250;
  private static final int STAGE_WAIT_TRIES = 120;
  private static final long SEQ_JUMP_AFTER_RESTART = 1_000_000;

  private final Map<String, Operation> operations = new LinkedHashMap<>();
  private final List<MessageConsumer<?>> consumers = new ArrayList<>();
  /** Operations whose state changed since the last write to the database. */
  private final Map<String, Operation> dirty = new LinkedHashMap<>();
  private final Map<String, Schedule> schedules = new LinkedHashMap<>();
  private HoistConfig config;
  private ModelCatalog catalog;
  private DeliveryOptions requestOptions;
  private WorkerExecutor storeThread;
  private OperationStore store;
  private Webhooks webhooks;
  private boolean flushing;
  private ResourceSampler sampler;
  private JsonObject resources;
  private boolean sampling;
  private String nodeName;
  private Instant startedAt;
  private Fleet fleet;
  private ResourceSampler heartbeatSampler;
  /** Child operation id → its multi-node parent's id, for the parents this node owns. */
  private final Map<String, String> parentOfChild = new HashMap<>();

  @Override
  public Future<?> start() {
    config = new HoistConfig(config()).validate();
    nodeName = config.nodeName();
    startedAt = Instant.now();
    requestOptions = new DeliveryOptions().setSendTimeout(config.requestTimeoutMs());
    // One thread: database writes stay in order and never contend.
    storeThread = vertx.createSharedWorkerExecutor("hoist-registry-store", 1);
    webhooks = new Webhooks(vertx, config.webhooks(), config.webhookRetries(), config.webhookRetryBaseMs());
    Path dbFile = config.dataDir().resolve("hoist.db");
    sampler = new ResourceSampler(config.hubCache());
    heartbeatSampler = new ResourceSampler(config.hubCache());
    return loadCatalog(config.modelsFile())
        .compose(c -> {
          catalog = c;
          return storeThread.executeBlocking(() -> OperationStore.open(dbFile));
        })
        .compose(s -> {
          store = s;
          return storeThread.executeBlocking(store::loadSchedules);
        })
        .compose(saved -> {
          for (JsonObject json : saved) {
            try {
              Schedule schedule = Schedule.fromJson(json);
              schedules.put(schedule.id, schedule);
            } catch (RuntimeException e) {
              log.error("Cannot read stored schedule {}; leaving it out", json.getString("id"), e);
            }
          }
          return storeThread.executeBlocking(store::loadLive);
        })
        .compose(states -> {
          EventBus bus = vertx.eventBus();
          // Plain addresses are this node's: local consumers, so that in a fleet several registries
          // never compete for one request. They answer for the whole fleet (see Fleet); nodes ask each
          // other on the node-scoped addresses below.
          consumers.add(bus.<JsonObject>localConsumer(OPS_CREATE, this::routeCreate));
          consumers.add(bus.<JsonObject>localConsumer(OPS_GET, this::routeGet));
          consumers.add(bus.<JsonObject>localConsumer(OPS_LIST, this::routeList));
          consumers.add(bus.<JsonObject>localConsumer(OPS_DELETE, m -> routeById(m, OPS_DELETE, this::delete)));
          consumers.add(bus.<JsonObject>localConsumer(OPS_CANCEL, m -> routeById(m, OPS_CANCEL, this::cancel)));
          consumers.add(bus.<JsonObject>localConsumer(OPS_RETRY, m -> routeById(m, OPS_RETRY, this::retry)));
          consumers.add(bus.<JsonObject>localConsumer(NODES_LIST, m -> m.reply(fleet.describe())));
          consumers.add(bus.<JsonObject>consumer(onNode(nodeName, OPS_CREATE), this::create));
          consumers.add(bus.<JsonObject>consumer(onNode(nodeName, OPS_GET), this::get));
          consumers.add(bus.<JsonObject>consumer(onNode(nodeName, OPS_LIST), this::list));
          consumers.add(bus.<JsonObject>consumer(onNode(nodeName, OPS_DELETE), this::delete));
          consumers.add(bus.<JsonObject>consumer(onNode(nodeName, OPS_CANCEL), this::cancel));
          consumers.add(bus.<JsonObject>consumer(onNode(nodeName, OPS_RETRY), this::retry));
          consumers.add(bus.<JsonObject>localConsumer(OPS_HISTORY, this::routeHistory));
          consumers.add(bus.<JsonObject>consumer(onNode(nodeName, OPS_HISTORY), this::history));
          consumers.add(bus.<JsonObject>localConsumer(OPS_STATS, this::stats));
          consumers.add(bus.<JsonObject>localConsumer(OPS_REPORT, this::report));
          consumers.add(bus.<JsonObject>localConsumer(SCHEDULES_LIST, this::listSchedules));
          consumers.add(bus.<JsonObject>localConsumer(SCHEDULES_CREATE, this::createSchedule));
          consumers.add(bus.<JsonObject>localConsumer(SCHEDULES_DELETE, this::deleteSchedule));
          consumers.add(bus.<JsonObject>localConsumer(MODELS_LIST, this::listModels));
          consumers.add(bus.<JsonObject>localConsumer(MODELS_UNLOAD, this::unloadModel));
          consumers.add(bus.<JsonObject>localConsumer(MODELS_TOUCH, this::touchModel));
          consumers.add(bus.<JsonObject>localConsumer(PING_PREFIX + VERTICLE_REGISTRY,
              m -> m.reply(new JsonObject().put(VERTICLE, VERTICLE_REGISTRY))));
          return Future.all(consumers.stream().map(MessageConsumer::completion).toList()).map(v -> states);
        })
        .compose(states -> {
          fleet = new Fleet(vertx, nodeName, vertx.isClustered(), config.clusterHeartbeatMs(), config.clusterNodeTimeoutMs(),
              config.requestTimeoutMs(), this::heartbeat);
          fleet.onRemoteChange(this::childChanged);
          return fleet.start().map(v -> states);
        })
        .onSuccess(states -> {
          recover(states);
          preload();
          vertx.setPeriodic(TICK_MS, id -> tick());
          long cleanupEveryMs = Math.min(30_000, Math.max(1_000, config.progressCleanupIntervalSeconds() * 1000 / 4));
          vertx.setPeriodic(cleanupEveryMs, id -> cleanup());
          vertx.setPeriodic(config.persistIntervalMs(), id -> flush());
        });
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

  /** After a restart: what was running resumes under the same id, from what is on disk. */
  private void recover(List<JsonObject> states) {
    int resumed = 0;
    for (JsonObject state : states) {
      Operation op;
      try {
        op = Operation.fromState(state, config.maxProgressEntries());
      } catch (RuntimeException e) {
        log.error("Cannot read stored operation {}; leaving it out", state.getString(OPERATION_ID), e);
        continue;
      }
      op.node = nodeName;
      // The last changes before a stop may not have reached the disk (they are written every
      // HOIST_PERSIST_INTERVAL_MS): jump past any seq subscribers, here or on other nodes, have seen.
      op.seq += SEQ_JUMP_AFTER_RESTART;
      operations.put(op.id, op);
      if (op.isParent()) {
        op.children.forEach(c -> parentOfChild.put(((JsonObject) c).getString(OPERATION_ID), op.id));
        continue; // a multi-node load runs no stage: it follows its children again
      }
      if (op.isRunning()) {
        op.log(Instant.now(), LEVEL_WARN, "Hoist restarted while this operation was " + op.status.wireName()
            + "; resuming from what is on disk");
        op.status = OperationStatus.QUEUED;
        resumed++;
      }
    }
    if (!operations.isEmpty()) {
      log.info("Recovered {} operations from the database, {} of them resumed", operations.size(), resumed);
    }
    schedule();
  }

  /** HOIST_PRELOAD: each entry becomes an ordinary operation, after interrupted ones were resumed. */
  private void preload() {
    for (JsonObject request : config.preload()) {
      createOperation(request, "preload", false)
          .onSuccess(op -> log.info("Preload of {}: operation {}", request.getString(MODEL_NAME), op.getString(OPERATION_ID)))
          .onFailure(err -> log.error("Preload of {} refused: {}", request.getString(MODEL_NAME), err.getMessage()));
    }
  }

  // ------------------------------------------------------------------ schedules

  private void listSchedules(Message<JsonObject> msg) {
    JsonArray out = new JsonArray();
    schedules.values().forEach(s -> out.add(s.toJson()));
    msg.reply(new JsonObject().put("schedules", out));
  }

  private void createSchedule(Message<JsonObject> msg) {
    try {
      Schedule schedule = Schedule.create(msg.body() == null ? new JsonObject() : msg.body(), java.time.ZoneId.systemDefault());
      // Refuse now what would be refused at every firing.
      LoadRequest request = LoadRequest.parse(schedule.request);
      catalog.resolve(request.modelName);
      JsonObject json = schedule.toJson();
      storeThread.executeBlocking(() -> {
        store.saveSchedule(json);
        return null;
      }).onSuccess(v -> {
        schedules.put(schedule.id, schedule);
        log.info("Schedule {} added: {} {} at '{}', next at {}", schedule.id, schedule.action, request.modelName,
            schedule.cronText, schedule.nextRun);
        msg.reply(schedule.toJson());
      }).onFailure(err -> Failures.reply(msg, err));
    } catch (RuntimeException e) {
      Failures.reply(msg, e);
    }
  }

  private void deleteSchedule(Message<JsonObject> msg) {
    Object id = msg.body() == null ? null : msg.body().getValue("id");
    Schedule schedule = id instanceof String ? schedules.get(id) : null;
    if (schedule == null) {
      Failures.reply(msg, new HoistException(ErrorCode.NOT_FOUND, "no schedule with id '" + ModelRef.abbreviate(String.valueOf(id)) + "'"));
      return;
    }
    storeThread.executeBlocking(() -> {
      store.deleteSchedule(schedule.id);
      return null;
    }).onSuccess(v -> {
      schedules.remove(schedule.id);
      msg.reply(new JsonObject());
    }).onFailure(err -> Failures.reply(msg, err));
  }

  /** Fires the schedules that are due; a firing is an ordinary operation. */
  private void fireDueSchedules(Instant now) {
    for (Schedule schedule : new ArrayList<>(schedules.values())) {
      if (schedule.nextRun == null || schedule.nextRun.isAfter(now)) {
        continue;
      }
      schedule.lastRun = now;
      schedule.nextRun = schedule.next(now);
      createOperation(schedule.request, "schedule:" + schedule.id, "refresh".equals(schedule.action)).onComplete(ar -> {
        if (ar.succeeded()) {
          schedule.lastOperationId = ar.result().getString(OPERATION_ID);
        } else {
          log.warn("Schedule {} could not start {}: {}", schedule.id, schedule.request.getString(MODEL_NAME), ar.cause().getMessage());
        }
        JsonObject json = schedule.toJson();
        storeThread.executeBlocking(() -> {
          store.saveSchedule(json);
          return null;
        });
      });
    }
  }

  // ------------------------------------------------------------------ requests

  private void create(Message<JsonObject> msg) {
    createOperation(msg.body(), "api", false).onSuccess(msg::reply).onFailure(err -> Failures.reply(msg, err));
  }

  /**
   * The one way an operation comes to be — from the API, a preload or a schedule: validated,
   * joined to an identical running one if there is one, written to the database, then queued.
   */
  private Future<JsonObject> createOperation(JsonObject body, String origin, boolean downloadOnly) {
    Operation op;
    try {
      JsonObject fields = body == null ? new JsonObject() : body.copy();
      Object parentId = fields.remove(PARENT_ID);
      fields.remove(NODE); // this node: the routing is done
      if (fields.containsKey(NODES)) {
        throw new HoistException(ErrorCode.BAD_REQUEST, "nodes: a load on several nodes is asked on hoist.ops.create, not on a node's own address");
      }
      LoadRequest request = LoadRequest.parse(fields);
      ModelCatalog.Entry resolved = catalog.resolve(request.modelName);
      ModelCatalog.Entry entry = request.revision != null ? resolved.atRevision(request.revision) : resolved;
      Instant now = Instant.now();
      op = new Operation(UUID.randomUUID().toString(), request.modelName, entry, now, config.maxProgressEntries());
      op.options = request.options;
      op.priority = request.priority;
      op.downloadOnly = downloadOnly;
      op.origin = origin;
      op.node = nodeName;
      op.parentId = parentId instanceof String ? (String) parentId : null;
      Operation same = findActive(op.dedupKey());
      if (same != null) {
        same.log(now, LEVEL_INFO, "Another request (" + origin + ") for " + request.modelName + " joined this operation");
        publish(same);
        return Future.succeededFuture(same.toJson().put("joined", true));
      }
      op.message = "Starting model " + (downloadOnly ? "refresh" : "loading") + " for " + request.modelName;
      op.log(now, LEVEL_INFO, (downloadOnly ? "Refresh of the cached files" : "Model loading") + " requested (" + origin + "): "
          + request.modelName + " (" + entry.ref + " on hub '" + entry.hub + "')"
          + (request.options.isEmpty() ? "" : " with options " + request.options.encode()));
      operations.put(op.id, op);
      log.info("Operation {} created for {} ({}, {})", op.id, request.modelName, entry.ref, origin);
    } catch (RuntimeException e) {
      return Future.failedFuture(e);
    }
    // The reply goes out only once the operation is on disk: an accepted load is never lost.
    JsonObject state = op.toState();
    Operation created = op;
    return storeThread.executeBlocking(() -> {
      store.save(List.of(state));
      return null;
    }).transform(ar -> {
      if (ar.failed()) {
        operations.remove(created.id);
        log.error("Cannot store new operation {}", created.id, ar.cause());
        return Future.failedFuture(new HoistException(ErrorCode.INTERNAL, "cannot record the operation: " + ar.cause().getMessage()));
      }
      schedule(); // starts it now if a slot is free, else publishes its place in the queue
      return Future.succeededFuture(created.toJson());
    });
  }

  private Operation findActive(String dedupKey) {
    for (Operation op : operations.values()) {
      if (op.isActive() && !op.isParent() && op.dedupKey().equals(dedupKey)) {
        return op;
      }
    }
    return null;
  }

  // ------------------------------------------------------------------ the fleet: routing between nodes

  /** Places a load: here, on the named node, on the best node, or on several nodes as one parent. */
  private void routeCreate(Message<JsonObject> msg) {
    JsonObject body = msg.body() == null ? new JsonObject() : msg.body();
    try {
      if (body.containsKey(PARENT_ID)) {
        throw new HoistException(ErrorCode.BAD_REQUEST, "parent_id is not a known field (Hoist sets it on the children of a multi-node load)");
      }
      LoadRequest.parse(body); // a bad request is refused here, before any node is involved
      if (body.containsKey(NODES)) {
        createParent(body, fleet.placeAll(body.getValue(NODES))).onSuccess(msg::reply).onFailure(err -> Failures.reply(msg, err));
        return;
      }
      String target = fleet.place(body.getString(NODE));
      if (target.equals(nodeName)) {
        create(msg);
      } else {
        fleet.ask(target, OPS_CREATE, body).onSuccess(msg::reply).onFailure(err -> Failures.reply(msg, err));
      }
    } catch (RuntimeException e) {
      Failures.reply(msg, e);
    }
  }

  private void routeGet(Message<JsonObject> msg) {
    routeById(msg, OPS_GET, this::get);
  }

  /** An operation of this node is handled here; another node's goes to its owner. */
  private void routeById(Message<JsonObject> msg, String address, io.vertx.core.Handler<Message<JsonObject>> local) {
    Object id = msg.body() == null ? null : msg.body().getValue(OPERATION_ID);
    if (!fleet.clustered() || !(id instanceof String) || operations.containsKey(id)) {
      local.handle(msg);
      return;
    }
    remote((String) id, address, msg.body()).onSuccess(op -> {
      if (address.equals(OPS_GET)) {
        answer(msg, op);
      } else {
        msg.reply(op);
      }
    }).onFailure(err -> Failures.reply(msg, err));
  }

  /**
   * Another node's operation: asked of its owner. When the owner is lost, a read gets the last known
   * state (with the node-lost error) and a change is refused with 503; an id never seen is looked for
   * on every node.
   */
  private Future<JsonObject> remote(String id, String address, JsonObject body) {
    JsonObject known = fleet.known(id);
    if (known != null) {
      String owner = known.getString(NODE);
      Fleet.Node node = fleet.node(owner);
      boolean read = address.equals(OPS_GET);
      if (read && (node == null || node.lost)) {
        return Future.succeededFuture(known.copy());
      }
      return fleet.ask(owner, address, body).recover(err -> read && Failures.toHoist(err).code() != ErrorCode.NOT_FOUND
          ? Future.succeededFuture(known.copy()) : Future.failedFuture(err));
    }
    List<Future<JsonObject>> asks = new ArrayList<>();
    for (String node : fleet.peers()) {
      asks.add(fleet.ask(node, OPS_GET, new JsonObject().put(OPERATION_ID, id)));
    }
    HoistException notFound = new HoistException(ErrorCode.NOT_FOUND, "no operation with id '" + ModelRef.abbreviate(id)
        + "' on any node of the fleet");
    if (asks.isEmpty()) {
      return Future.failedFuture(notFound);
    }
    return Future.any(asks).transform(ar -> {
      if (ar.failed()) {
        return Future.failedFuture(notFound);
      }
      JsonObject found = asks.stream().filter(Future::succeeded).findFirst().map(Future::result).orElseThrow();
      return address.equals(OPS_GET) ? Future.succeededFuture(found) : fleet.ask(found.getString(NODE), address, body);
    });
  }

  /** History of the whole fleet: every node that answers, merged newest first, at most {@code limit}. */
  private void routeHistory(Message<JsonObject> msg) {
    List<String> peers = fleet.peers();
    if (!fleet.clustered() || peers.isEmpty()) {
      history(msg);
      return;
    }
    JsonObject query = msg.body() == null ? new JsonObject() : msg.body();
    List<Future<JsonArray>> asks = new ArrayList<>();
    for (String node : peers) {
      asks.add(fleet.ask(node, OPS_HISTORY, query).map(r -> r.getJsonArray(OPERATIONS, new JsonArray()))
          .otherwise(err -> new JsonArray()));
    }
    historyOf(query).onFailure(err -> Failures.reply(msg, err)).onSuccess(mine -> Future.join(asks).onComplete(ar -> {
      List<JsonObject> all = new ArrayList<>();
      mine.getJsonArray(OPERATIONS).forEach(o -> all.add((JsonObject) o));
      asks.forEach(f -> f.result().forEach(o -> all.add((JsonObject) o)));
      newestFirst(all);
      int limit = historyLimit(query);
      msg.reply(new JsonObject().put(OPERATIONS, new JsonArray(new ArrayList<>(all.subList(0, Math.min(limit, all.size()))))));
    }));
  }

  /** Operations from several nodes in one list, newest first (as each node's own list is). */
  private static void newestFirst(List<JsonObject> ops) {
    ops.sort(Comparator.comparing((JsonObject o) -> Instant.parse(o.getString(CREATED_AT))).reversed());
  }

  /** Every node's live operations, newest first; a lost node's as last known. */
  private void routeList(Message<JsonObject> msg) {
    if (!fleet.clustered()) {
      list(msg);
      return;
    }
    List<JsonObject> all = new ArrayList<>();
    operations.values().forEach(op -> all.add(op.toJson()));
    List<Future<JsonArray>> asks = new ArrayList<>();
    for (String node : fleet.peers()) {
      asks.add(fleet.ask(node, OPS_LIST, new JsonObject()).map(r -> r.getJsonArray(OPERATIONS, new JsonArray()))
          .otherwise(err -> new JsonArray(new ArrayList<>(fleet.knownOf(node)))));
    }
    Future.join(asks).onComplete(ar -> {
      asks.forEach(f -> f.result().forEach(o -> all.add((JsonObject) o)));
      fleet.lostNodes().forEach(node -> all.addAll(fleet.knownOf(node)));
      newestFirst(all);
      answer(msg, new JsonObject().put(OPERATIONS, new JsonArray(new ArrayList<>(all))));
    });
  }

  /** This node, as its heartbeat tells the fleet: resources, loaded models, work in progress. */
  private Future<JsonObject> heartbeat() {
    Future<JsonObject> resident = vertx.eventBus().<JsonObject>request(LOAD_RESIDENT, new JsonObject(), requestOptions)
        .map(Message::body);
    Future<JsonObject> sample = vertx.executeBlocking(heartbeatSampler::sample, false);
    return Future.join(resident, sample).transform(ar -> {
      JsonArray models = resident.succeeded() ? resident.result().getJsonArray(MODELS, new JsonArray()) : new JsonArray();
      JsonObject resources = sample.succeeded() ? sample.result() : new JsonObject();
      long residentBytes = 0;
      JsonArray loaded = new JsonArray();
      for (int i = 0; i < models.size(); i++) {
        JsonObject m = models.getJsonObject(i);
        residentBytes += m.getLong("bytes_resident", 0L);
        loaded.add(new JsonObject().put(MODEL_KEY, m.getString(MODEL_KEY)).put(REPO, m.getString(REPO))
            .put("bytes_resident", m.getLong("bytes_resident")).put("loaded_at", m.getString("loaded_at"))
            .put("idle_seconds", m.getValue("idle_seconds")).put(PINNED, m.getValue(PINNED)));
      }
      long available = resources.getLong("memory_available_bytes", 0L);
      long limit = config.memoryLimitBytes();
      resources.put("memory_free_for_models_bytes", limit > 0 ? Math.max(0, Math.min(available, limit - residentBytes)) : available);
      if (limit > 0) {
        resources.put("memory_limit_bytes", limit);
      }
      resources.put("memory_resident_bytes", residentBytes);
      long active = operations.values().stream().filter(op -> op.isActive() && !op.isParent()).count();
      return Future.succeededFuture(new JsonObject()
          .put("started_at", startedAt.toString())
          .put("resources", resources)
          .put("loaded_models", loaded)
          .put("active_operations", active));
    });
  }

  // ------------------------------------------------------------------ multi-node loads (parent and children)

  /**
   * One model on several nodes: a parent operation here, and an ordinary child operation on each
   * node. The parent runs no stage; its state and progress are its children's, aggregated.
   */
  private Future<JsonObject> createParent(JsonObject body, List<String> targets) {
    Operation parent;
    try {
      JsonObject fields = body.copy();
      fields.remove(NODES);
      LoadRequest request = LoadRequest.parse(fields);
      ModelCatalog.Entry resolved = catalog.resolve(request.modelName);
      ModelCatalog.Entry entry = request.revision != null ? resolved.atRevision(request.revision) : resolved;
      Instant now = Instant.now();
      parent = new Operation(UUID.randomUUID().toString(), request.modelName, entry, now, config.maxProgressEntries());
      parent.node = nodeName;
      parent.options = request.options;
      parent.priority = request.priority;
      parent.children = new JsonArray();
      for (String target : targets) {
        parent.children.add(new JsonObject().put(NODE, target).put(OPERATION_ID, (String) null)
            .put(STATUS, OperationStatus.QUEUED.wireName()).put(PROGRESS, 0));
      }
      parent.runStartedAt = now;
      parent.mark(OperationStatus.INITIALIZING);
      parent.message = "Starting " + request.modelName + " on " + targets.size() + " nodes: " + String.join(", ", targets);
      parent.log(now, LEVEL_INFO, "Model loading requested on " + targets.size() + " nodes (" + String.join(", ", targets)
          + "): " + request.modelName + " (" + entry.ref + ")");
      operations.put(parent.id, parent);
    } catch (RuntimeException e) {
      return Future.failedFuture(e);
    }
    Operation op = parent;
    JsonObject state = op.toState();
    return storeThread.executeBlocking(() -> {
      store.save(List.of(state));
      return null;
    }).compose(v -> {
      List<Future<JsonObject>> created = new ArrayList<>();
      for (int i = 0; i < op.children.size(); i++) {
        String target = op.children.getJsonObject(i).getString(NODE);
        JsonObject childBody = body.copy();
        childBody.remove(NODES);
        childBody.put(PARENT_ID, op.id);
        created.add(target.equals(nodeName) ? createOperation(childBody, "parent:" + op.id, false)
            : fleet.ask(target, OPS_CREATE, childBody));
      }
      return Future.join(created).transform(ar -> {
        for (int i = 0; i < created.size(); i++) {
          JsonObject row = op.children.getJsonObject(i);
          Future<JsonObject> f = created.get(i);
          if (f.succeeded()) {
            row.put(OPERATION_ID, f.result().getString(OPERATION_ID));
            parentOfChild.put(f.result().getString(OPERATION_ID), op.id);
            op.log(Instant.now(), LEVEL_INFO, "Node " + row.getString(NODE) + ": operation " + f.result().getString(OPERATION_ID)
                + (f.result().getBoolean("joined", false) ? " (joined one already running)" : ""));
          } else {
            HoistException error = Failures.toHoist(f.cause());
            row.put(STATUS, OperationStatus.ERROR.wireName()).put(MESSAGE, error.getMessage()).put(ERROR, error.toJson());
            op.log(Instant.now(), LEVEL_ERROR, "Node " + row.getString(NODE) + " refused the load: " + error.getMessage());
          }
        }
        refreshParent(op, true);
        return Future.succeededFuture(op.toJson());
      });
    });
  }

  /** A child's change (this node's, or another's seen on the bus) moves its parent. */
  private void childChanged(JsonObject child) {
    String parentId = parentOfChild.get(child.getString(OPERATION_ID));
    Operation parent = parentId == null ? null : operations.get(parentId);
    if (parent != null && parent.isParent()) {
      refreshParent(parent, false);
    }
  }

  private JsonObject childState(String id) {
    Operation local = id == null ? null : operations.get(id);
    return local != null ? local.toJson() : id == null ? null : fleet.known(id);
  }

  /** The parent's state from its children's: the least advanced running one, the mean progress, summed bytes. */
  private void refreshParent(Operation parent, boolean force) {
    JsonArray rows = new JsonArray();
    long done = 0;
    long total = 0;
    double rate = 0;
    int progressSum = 0;
    OperationStatus least = null;
    int completed = 0;
    int cancelled = 0;
    List<String> failures = new ArrayList<>();
    ErrorCode firstCode = null;
    for (int i = 0; i < parent.children.size(); i++) {
      JsonObject before = parent.children.getJsonObject(i);
      JsonObject state = childState(before.getString(OPERATION_ID));
      JsonObject row = state == null ? before.copy() : new JsonObject()
          .put(NODE, state.getString(NODE, before.getString(NODE)))
          .put(OPERATION_ID, state.getString(OPERATION_ID))
          .put(STATUS, state.getString(STATUS))
          .put(PROGRESS, state.getInteger(PROGRESS, 0))
          .put(MESSAGE, state.getString(MESSAGE))
          .put(ERROR, state.getJsonObject(ERROR));
      if (state != null) {
        JsonObject stage = state.getJsonObject(STAGE, new JsonObject());
        done += stage.getLong(BYTES_DONE, 0L);
        total += stage.getLong(BYTES_TOTAL, 0L);
        rate += stage.getDouble(BYTES_PER_SECOND, 0.0);
      }
      rows.add(row);
      OperationStatus status = OperationStatus.fromWire(row.getString(STATUS));
      progressSum += status == OperationStatus.COMPLETED ? 100 : row.getInteger(PROGRESS, 0);
      if (!status.isFinished()) {
        least = least == null || status.ordinal() < least.ordinal() ? status : least;
      } else if (status == OperationStatus.COMPLETED) {
        completed++;
      } else if (status == OperationStatus.CANCELLED) {
        cancelled++;
      } else {
        failures.add(row.getString(NODE) + ": " + row.getString(MESSAGE));
        JsonObject error = row.getJsonObject(ERROR);
        if (firstCode == null && error != null) {
          firstCode = ErrorCode.fromWire(error.getString(CODE));
        }
      }
    }
    boolean changed = force || !rows.equals(parent.children);
    parent.children = rows;
    parent.bytesDone = done;
    parent.bytesTotal = total;
    parent.bytesPerSecond = rate;
    // The children's bytes move the parent's without a change to publish; reads show them at once.
    parent.changedQuietly();
    int n = rows.size();
    if (least != null) {
      if (!parent.isActive()) {
        if (parent.status == OperationStatus.CANCELLED) {
          if (changed) {
            publish(parent);
          }
          return;
        }
        // A node came back and resumed its part: the parent follows it again.
        parent.error = null;
        parent.finishedAt = null;
        parent.log(Instant.now(), LEVEL_INFO, "A node resumed its part; following the children again");
        changed = true;
      }
      if (least != parent.status) {
        parent.mark(least);
        changed = true;
      }
      parent.raiseProgress(Math.min(99, progressSum / Math.max(1, n)));
      parent.message = (n - completed - failures.size() - cancelled) + " of " + n + " nodes working, " + completed + " done"
          + (failures.isEmpty() ? "" : ", " + failures.size() + " failed");
      if (changed) {
        publish(parent);
      }
    } else if (parent.isActive()) {
      if (failures.isEmpty() && cancelled == 0) {
        parent.progress = 100;
        finish(parent, OperationStatus.COMPLETED, null, "Loaded on all " + n + " nodes");
      } else if (failures.isEmpty()) {
        finish(parent, OperationStatus.CANCELLED, null, cancelled + " of " + n + " nodes cancelled");
      } else {
        finish(parent, OperationStatus.ERROR, new HoistException(firstCode == null ? ErrorCode.INTERNAL : firstCode,
            failures.size() + " of " + n + " nodes failed: " + String.join("; ", failures)), null);
      }
    } else if (changed) {
      publish(parent);
    }
  }

  private void cancelChildren(Operation parent) {
    forEachChild(parent, OPS_CANCEL, row -> !OperationStatus.fromWire(row.getString(STATUS)).isFinished());
  }

  /** Retries the children that failed or were cancelled; the parent follows them again. */
  private void retryChildren(Operation parent) {
    parent.attempt++;
    parent.error = null;
    parent.finishedAt = null;
    parent.mark(OperationStatus.INITIALIZING);
    parent.message = "Retrying on the nodes that did not finish (attempt " + parent.attempt + ")";
    parent.log(Instant.now(), LEVEL_INFO, "Retry requested: attempt " + parent.attempt);
    publish(parent);
    forEachChild(parent, OPS_RETRY, row -> {
      OperationStatus s = OperationStatus.fromWire(row.getString(STATUS));
      return (s == OperationStatus.ERROR || s == OperationStatus.CANCELLED) && row.getString(OPERATION_ID) != null;
    });
  }

  private void forEachChild(Operation parent, String address, java.util.function.Predicate<JsonObject> which) {
    for (int i = 0; i < parent.children.size(); i++) {
      JsonObject row = parent.children.getJsonObject(i);
      String id = row.getString(OPERATION_ID);
      if (id == null || !which.test(row)) {
        continue;
      }
      JsonObject body = new JsonObject().put(OPERATION_ID, id);
      String node = row.getString(NODE);
      Future<?> done;
      if (node.equals(nodeName)) {
        done = vertx.eventBus().request(onNode(nodeName, address), body, requestOptions);
      } else {
        done = fleet.ask(node, address, body);
      }
      done.onFailure(err -> {
        parent.log(Instant.now(), LEVEL_WARN, "Node " + node + ": " + address.substring(PREFIX.length()) + " refused: "
            + Failures.toHoist(err).getMessage());
        refreshParent(parent, true);
      });
    }
  }

  private void get(Message<JsonObject> msg) {
    try {
      Operation op = find(msg.body());
      msg.reply(asText(msg) ? op.toText() : op.toJson());
    } catch (RuntimeException e) {
      Failures.reply(msg, e);
    }
  }

  private void list(Message<JsonObject> msg) {
    List<Operation> newestFirst = new ArrayList<>(operations.values());
    Collections.reverse(newestFirst);
    if (asText(msg)) {
      StringJoiner text = new StringJoiner(",", "{\"" + OPERATIONS + "\":[", "]}");
      newestFirst.forEach(op -> text.add(op.toText()));
      msg.reply(text.toString());
      return;
    }
    JsonArray array = new JsonArray();
    newestFirst.forEach(op -> array.add(op.toJson()));
    msg.reply(new JsonObject().put(OPERATIONS, array));
  }

  /** Whether the caller asked for the reply as JSON text ({@link dev.hoist.contract.EventBusContract#REPLY_FORMAT}). */
  private static boolean asText(Message<?> msg) {
    return REPLY_AS_TEXT.equals(msg.headers().get(REPLY_FORMAT));
  }

  /** A read's reply: the object, or its text when the caller asked for that. */
  private static void answer(Message<JsonObject> msg, JsonObject json) {
    if (asText(msg)) {
      msg.reply(json.encode());
    } else {
      msg.reply(json);
    }
  }

  private void delete(Message<JsonObject> msg) {
    try {
      Operation op = find(msg.body());
      if (op.isActive()) {
        throw new HoistException(ErrorCode.OPERATION_ACTIVE, "operation " + op.id + " is still " + op.status.wireName()
            + "; cancel it first (POST /api/llm/progress/" + op.id + "/cancel), or wait for it to finish");
      }
      remove(op);
      msg.reply(new JsonObject());
    } catch (RuntimeException e) {
      Failures.reply(msg, e);
    }
  }

  /** Stops an operation in any stage; partial downloads stay on disk for a retry. */
  private void cancel(Message<JsonObject> msg) {
    try {
      Operation op = find(msg.body());
      if (!op.isActive()) {
        throw new HoistException(ErrorCode.OPERATION_FINISHED, "operation " + op.id + " has already finished ("
            + op.status.wireName() + "); nothing to cancel");
      }
      OperationStatus was = op.status;
      if (op.isParent()) {
        cancelChildren(op);
        finish(op, OperationStatus.CANCELLED, null, "Cancelled by request on every node");
        msg.reply(op.toJson());
        return;
      }
      stopStages(op, was);
      finish(op, OperationStatus.CANCELLED, null, "Cancelled by request while " + was.wireName()
          + (was == OperationStatus.DOWNLOADING ? "; downloaded files are kept for a retry" : ""));
      msg.reply(op.toJson());
    } catch (RuntimeException e) {
      Failures.reply(msg, e);
    }
  }

  /** Tells the stage doing the work to stop now; its later reports belong to an old run and are ignored. */
  private void stopStages(Operation op, OperationStatus was) {
    String address = was == OperationStatus.INITIALIZING || was == OperationStatus.DOWNLOADING ? DOWNLOAD_CANCEL
        : was == OperationStatus.LOADING ? LOAD_CANCEL : null;
    op.run++;
    if (address != null) {
      vertx.eventBus().<JsonObject>request(address, new JsonObject().put(OPERATION_ID, op.id), requestOptions)
          .onFailure(err -> log.warn("Could not tell the {} stage to stop operation {}: {}",
              address.equals(LOAD_CANCEL) ? "load" : "download", op.id, err.getMessage()));
    }
  }

  /** Starts a failed or cancelled operation again under the same id. */
  private void retry(Message<JsonObject> msg) {
    try {
      Operation op = find(msg.body());
      if (op.status != OperationStatus.ERROR && op.status != OperationStatus.CANCELLED) {
        throw new HoistException(op.isActive() ? ErrorCode.OPERATION_ACTIVE : ErrorCode.OPERATION_FINISHED,
            "operation " + op.id + " is " + op.status.wireName() + "; only failed or cancelled operations can be retried");
      }
      if (op.isParent()) {
        retryChildren(op);
        msg.reply(op.toJson());
        return;
      }
      op.attempt++;
      op.error = null;
      op.finishedAt = null;
      op.summary = null;
      op.mark(OperationStatus.QUEUED);
      op.message = "Retrying (attempt " + op.attempt + ")";
      op.log(Instant.now(), LEVEL_INFO, "Retry requested: attempt " + op.attempt + ", continuing from what is on disk");
      publish(op);
      schedule();
      msg.reply(op.toJson());
    } catch (RuntimeException e) {
      Failures.reply(msg, e);
    }
  }

  private void history(Message<JsonObject> msg) {
    historyOf(msg.body()).onSuccess(msg::reply).onFailure(err -> Failures.reply(msg, err));
  }

  /** This node's history from the database: {@code {operations: [...]}}, newest first. Fails 400 on a bad query. */
  private Future<JsonObject> historyOf(JsonObject query) {
    JsonObject q = query == null ? new JsonObject() : query;
    String model = q.getValue("model") instanceof String ? q.getString("model") : null;
    String status = q.getValue(STATUS) instanceof String ? q.getString(STATUS) : null;
    int limit;
    try {
      limit = historyLimit(q);
      if (status != null) {
        OperationStatus.fromWire(status);
      }
    } catch (IllegalArgumentException e) {
      return Future.failedFuture(new HoistException(ErrorCode.BAD_REQUEST, "limit must be a number and status one of queued, "
          + "initializing, downloading, loading, finalizing, completed, error, cancelled"));
    }
    return flushNow().compose(v -> storeThread.executeBlocking(() -> store.history(model, status, limit)))
        .map(states -> {
          JsonArray out = new JsonArray();
          states.forEach(s -> out.add(publicForm(s)));
          return new JsonObject().put(OPERATIONS, out);
        });
  }

  private static int historyLimit(JsonObject query) {
    return Math.min(MAX_HISTORY, Math.max(1, Integer.parseInt(String.valueOf(query.getValue("limit", 50)))));
  }

  private void stats(Message<JsonObject> msg) {
    flushNow().compose(v -> storeThread.executeBlocking(() -> HistoryStats.compute(store.finished(STATS_WINDOW))))
        .onSuccess(msg::reply)
        .onFailure(err -> Failures.reply(msg, err));
  }

  private JsonObject publicForm(JsonObject state) {
    JsonObject copy = state.copy();
    copy.remove("internal");
    if (copy.getValue(NODE) == null) {
      copy.put(NODE, nodeName); // written before nodes had names: it ran here
    }
    return copy;
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

  /** Resolves a model name to its repo and tells the load stage it is in use (keep-alive). */
  private void touchModel(Message<JsonObject> msg) {
    try {
      Object name = msg.body() == null ? null : msg.body().getValue(MODEL_NAME);
      if (!(name instanceof String) || ((String) name).isBlank()) {
        throw new HoistException(ErrorCode.BAD_REQUEST, "model_name is required");
      }
      ModelCatalog.Entry entry = catalog.resolve((String) name);
      vertx.eventBus().<JsonObject>request(LOAD_TOUCH, new JsonObject().put(REPO, entry.ref.repo), requestOptions)
          .onSuccess(reply -> msg.reply(reply.body().put(MODEL_NAME, name).put(REPO, entry.ref.repo)))
          .onFailure(err -> Failures.reply(msg, err));
    } catch (RuntimeException e) {
      Failures.reply(msg, e);
    }
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

  // ------------------------------------------------------------------ queue and stage sequence

  /** Starts queued operations while there are free slots; tells the rest where they stand. */
  private void schedule() {
    long running = operations.values().stream().filter(op -> op.isRunning() && !op.isParent()).count();
    List<Operation> waiting = new ArrayList<>();
    for (Operation op : operations.values()) {
      if (op.status == OperationStatus.QUEUED) {
        waiting.add(op);
      }
    }
    // Higher priority first; within a priority, first come first served.
    waiting.sort(Comparator.comparingInt((Operation op) -> -op.priority).thenComparing(op -> op.createdAt));
    int position = 0;
    for (Operation op : waiting) {
      if (running < config.maxConcurrent()) {
        running++;
        begin(op);
      } else {
        position++;
        if (op.queuePosition == null || op.queuePosition != position) {
          op.queuePosition = position;
          op.message = "Queued: position " + position + " (" + config.maxConcurrent() + " operations run at once)";
          publish(op);
        }
      }
    }
  }

  private void begin(Operation op) {
    op.run++;
    op.queuePosition = null;
    op.runStartedAt = Instant.now();
    op.enter(OperationStatus.INITIALIZING);
    op.message = "Resolving " + op.entry.ref;
    publish(op);
    JsonObject command = new JsonObject()
        .put(OPERATION_ID, op.id)
        .put(ATTEMPT, op.run)
        .put(REPO, op.entry.ref.repo)
        .put(REVISION, op.entry.ref.revision)
        .put(HUB, op.entry.hub)
        .put(OPTIONS, op.options.copy());
    command(op, DOWNLOAD_START, command, 0);
  }

  /**
   * Sends a stage its command. A stage that is not there yet (Hoist starting, a node joining) is
   * waited for a while before the operation fails, so a restart does not race the deployment.
   */
  private void command(Operation op, String address, JsonObject command, int tries) {
    int run = op.run;
    vertx.eventBus().request(address, command, requestOptions).onFailure(err -> {
      if (run != op.run || !op.isRunning()) {
        return;
      }
      boolean absent = err instanceof ReplyException && ((ReplyException) err).failureType() == ReplyFailure.NO_HANDLERS;
      if (absent && tries < STAGE_WAIT_TRIES) {
        if (tries == 0) {
          op.log(Instant.now(), LEVEL_WARN, "Waiting for the " + address.substring(PREFIX.length()) + " stage to come up");
          publish(op);
        }
        vertx.setTimer(STAGE_WAIT_MS, t -> command(op, address, command, tries + 1));
        return;
      }
      fail(op, run, Failures.toHoist(err));
    });
  }

  private void startLoad(Operation op) {
    JsonObject command = new JsonObject()
        .put(OPERATION_ID, op.id)
        .put(ATTEMPT, op.run)
        .put(REPO, op.entry.ref.repo)
        .put(COMMIT, op.commit)
        .put(MODEL_KEY, op.entry.ref.repo + "@" + op.commit)
        .put(SNAPSHOT_DIR, op.downloadResult.getString(SNAPSHOT_DIR))
        .put(FILES, op.downloadResult.getJsonArray(FILES));
    JsonObject nativeService = op.entry.json.getJsonObject(NATIVE);
    if (nativeService != null) {
      command.put(NATIVE, nativeService.copy());
    }
    // Keep-alive and pinning are the catalog entry's; the load stage applies them to the resident model.
    for (String field : List.of(KEEP_ALIVE, PINNED)) {
      if (op.entry.json.containsKey(field)) {
        command.put(field, op.entry.json.getValue(field));
      }
    }
    command(op, LOAD_START, command, 0);
  }

  /** Everything the stages say about an operation arrives here. */
  private void report(Message<JsonObject> msg) {
    JsonObject r = msg.body();
    Operation op = operations.get(r.getString(OPERATION_ID));
    int run = r.getInteger(ATTEMPT, 0);
    if (op == null || run != op.run || !op.isRunning()) {
      return; // a late report of a finished, cancelled, removed or superseded run
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
          fail(op, run, HoistException.fromJson(r.getJsonObject(ERROR, new JsonObject())));
          break;
        default:
          log.warn("Ignoring report of unknown kind '{}' for {}", kind, op.id);
      }
    } catch (RuntimeException e) {
      log.error("Bad report for operation {}: {}", op.id, r.encode(), e);
      fail(op, run, new HoistException(ErrorCode.INTERNAL, "internal error while recording progress: " + e.getMessage()));
    }
  }

  private void applyProgress(Operation op, OperationStatus stage, JsonObject r) {
    long now = System.nanoTime();
    if (stage.ordinal() > op.status.ordinal() && !stage.isFinished()) {
      op.enter(stage);
    }
    if (r.containsKey(COMMIT)) {
      op.commit = r.getString(COMMIT);
    }
    if (r.containsKey(FILES)) {
      op.files = r.getJsonArray(FILES).copy();
      long total = 0;
      for (int i = 0; i < op.files.size(); i++) {
        total += op.files.getJsonObject(i).getLong(SIZE, 0L);
      }
      op.modelBytes = total;
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
    if (stage == OperationStatus.DOWNLOADING || stage == OperationStatus.INITIALIZING) {
      op.downloadResult = result;
      op.commit = result.getString(COMMIT, op.commit);
      op.filesDone = op.filesTotal;
      op.raiseProgress(OperationStatus.DOWNLOADING.bandEnd);
      if (op.downloadOnly) {
        op.progress = 100;
        finish(op, OperationStatus.COMPLETED, null, "Files of " + op.entry.ref + " are up to date in the cache (refresh only, not loaded)");
        return;
      }
      op.enter(OperationStatus.LOADING);
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
    op.mark(OperationStatus.FINALIZING);
    op.bytesPerSecond = 0;
    op.currentFile = null;
    op.message = "Finalizing";
    op.log(now, LEVEL_INFO, "Finalizing: recording the loaded model");
    publish(op);

    op.summary = summary.copy();
    op.log(now, LEVEL_INFO, "Summary: " + describe(summary));
    op.raiseProgress(OperationStatus.FINALIZING.bandEnd);
    op.message = "Model summary recorded";
    publish(op);

    op.progress = 100;
    finish(op, OperationStatus.COMPLETED, null, "Completed in " + human(Duration.between(op.runStartedAt, now)));
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

  private void fail(Operation op, int run, HoistException error) {
    if (!op.isActive() || run != op.run) {
      return;
    }
    finish(op, OperationStatus.ERROR, error, null);
  }

  /** Ends an operation: completed, error or cancelled; frees its slot and tells the webhooks. */
  private void finish(Operation op, OperationStatus end, HoistException error, String line) {
    Instant now = Instant.now();
    op.mark(end);
    op.error = error;
    op.finishedAt = now;
    op.bytesPerSecond = 0;
    op.queuePosition = null;
    op.stalled = false;
    if (error != null) {
      op.message = error.getMessage();
      op.log(now, LEVEL_ERROR, error.getMessage());
      log.warn("Operation {} failed ({}): {}", op.id, error.code().wireName(), error.getMessage());
    } else {
      op.message = end == OperationStatus.COMPLETED
          ? op.downloadOnly ? "Files of " + op.modelName + " are up to date" : "Model " + op.modelName + " is loaded and ready"
          : line;
      op.log(now, end == OperationStatus.CANCELLED ? LEVEL_WARN : LEVEL_INFO, line);
      log.info("Operation {} {}: {}", op.id, end.wireName(), op.modelName);
    }
    publish(op);
    webhooks.notify(end.wireName(), op.toJson());
    schedule();
  }

  // ------------------------------------------------------------------ changes

  private void publish(Operation op) {
    op.seq++;
    op.updatedAt = Instant.now();
    dirty.put(op.id, op);
    JsonObject json = op.toJson();
    vertx.eventBus().publish(OPS_UPDATES, json);
    childChanged(json);
  }

  private void remove(Operation op) {
    operations.remove(op.id);
    dirty.remove(op.id);
    op.seq++;
    vertx.eventBus().publish(OPS_UPDATES, new JsonObject().put(OPERATION_ID, op.id).put(SEQ, op.seq).put(REMOVED, true));
    JsonObject last = op.toState();
    storeThread.executeBlocking(() -> {
      store.save(List.of(last));
      store.retire(op.id);
      return null;
    }).onFailure(err -> log.error("Cannot retire operation {} in the database", op.id, err));
  }

  /** Writes what changed since the last flush, in one transaction, off the event loop. */
  private void flush() {
    if (flushing || dirty.isEmpty()) {
      return;
    }
    flushNow();
  }

  private Future<Void> flushNow() {
    if (dirty.isEmpty()) {
      return Future.succeededFuture();
    }
    List<JsonObject> states = new ArrayList<>();
    dirty.values().forEach(op -> states.add(op.toState()));
    dirty.clear();
    flushing = true;
    return storeThread.executeBlocking(() -> {
      store.save(states);
      return (Void) null;
    }).andThen(ar -> {
      flushing = false;
      if (ar.failed()) {
        log.error("Cannot write {} operations to the database", states.size(), ar.cause());
      }
    });
  }

  /** Each second: rates decay while no bytes arrive, and operations past their time limit fail. */
  private void tick() {
    long now = System.nanoTime();
    Instant wall = Instant.now();
    fireDueSchedules(wall);
    sampleResources();
    for (Operation op : new ArrayList<>(operations.values())) {
      if (!op.isRunning() || op.isParent()) {
        continue; // a parent has no time limit of its own: each child has its own
      }
      long limit = config.timeoutSeconds(op.modelBytes);
      if (op.runStartedAt != null && Duration.between(op.runStartedAt, wall).getSeconds() >= limit) {
        OperationStatus was = op.status;
        stopStages(op, was);
        finish(op, OperationStatus.ERROR, new HoistException(ErrorCode.TIMED_OUT, "timed out after "
            + human(Duration.ofSeconds(limit)) + " while " + was.wireName() + " (the limit for a model of "
            + (op.modelBytes / 1_000_000) + " MB); retry to continue from what is on disk"), null);
        continue;
      }
      if ((op.status == OperationStatus.DOWNLOADING || op.status == OperationStatus.LOADING)
          && Duration.between(op.updatedAt, wall).toMillis() >= TICK_MS && op.refreshRate(now)) {
        publish(op);
      }
    }
  }

  /** Every other second while something runs: the machine's resources, into running operations. */
  private void sampleResources() {
    boolean anyRunning = operations.values().stream().anyMatch(Operation::isRunning);
    if (!anyRunning || sampling) {
      return;
    }
    sampling = true;
    vertx.executeBlocking(sampler::sample).onComplete(ar -> {
      sampling = false;
      if (ar.succeeded()) {
        resources = ar.result();
        operations.values().stream().filter(Operation::isRunning).forEach(op -> op.sampled(resources));
      }
    });
  }

  /** PROGRESS_CLEANUP_INTERVAL: finished operations older than that leave the live list (history keeps them). */
  private void cleanup() {
    Instant cutoff = Instant.now().minusSeconds(config.progressCleanupIntervalSeconds());
    List<Operation> expired = new ArrayList<>();
    for (Operation op : operations.values()) {
      if (!op.isActive() && op.finishedAt != null && op.finishedAt.isBefore(cutoff)) {
        expired.add(op);
      }
    }
    expired.forEach(op -> {
      log.info("Cleanup: operation {} ({}) leaves the live list", op.id, op.status.wireName());
      remove(op);
    });
  }

  @Override
  public Future<?> stop() {
    webhooks.close();
    return (fleet == null ? Future.<Void>succeededFuture() : fleet.stop())
        .compose(x -> Future.all(consumers.stream().map(MessageConsumer::unregister).toList()))
        .compose(v -> flushNow())
        .compose(v -> storeThread.executeBlocking(() -> {
          store.close();
          return null;
        }))
        .onComplete(ar -> storeThread.close());
  }
}
