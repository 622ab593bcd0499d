package dev.hoist.registry;

import static dev.hoist.contract.EventBusContract.*;

import dev.hoist.contract.ErrorCode;
import dev.hoist.contract.HoistException;
import dev.hoist.contract.OperationStatus;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.eventbus.DeliveryOptions;
import io.vertx.core.eventbus.Message;
import io.vertx.core.eventbus.MessageConsumer;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The fleet as this node's registry sees it: which nodes are alive (from their heartbeats), what
 * each has, and the last known state of every other node's operations (from {@code hoist.ops.updates}).
 *
 * <p>Liveness comes from Hoist's own heartbeats rather than from Hazelcast's membership: they say
 * "the registry of node b answers", which is what matters, and they also carry the resources the
 * placement of a load needs. A node silent for HOIST_CLUSTER_NODE_TIMEOUT_MS is lost: its running
 * operations are shown as failed with {@code node_lost} (one surviving node announces it, the one
 * with the smallest name, so subscribers get it once), and nothing is sent to it any more — a dead
 * member's event-bus registrations may linger in the cluster for a while, and a request to them would
 * only time out. When the node comes back its registry resumes those operations from its database,
 * and their updates replace the lost state everywhere.
 *
 * <p>Runs on the registry's event loop; not thread-safe.
 */
final class Fleet {

  private static final Logger log = LoggerFactory.getLogger(Fleet.class);
  private static final DateTimeFormatter LOG_TIME = DateTimeFormatter.ofPattern("HH:mm:ss").withZone(ZoneOffset.UTC);

  /** One node of the fleet, as last heard of. */
  static final class Node {
    final String name;
    JsonObject heartbeat = new JsonObject();
    long lastSeenNanos;
    Instant lastSeen;
    boolean lost;

    Node(String name) {
      this.name = name;
    }

    /** Bytes a new model could still take in memory on this node (the smaller of what the machine and the cap allow). */
    long memoryFree() {
      JsonObject r = heartbeat.getJsonObject("resources", new JsonObject());
      return r.getLong("memory_free_for_models_bytes", r.getLong("memory_available_bytes", 0L));
    }

    long diskFree() {
      return heartbeat.getJsonObject("resources", new JsonObject()).getLong("disk_free_bytes", 0L);
    }
  }

  private final Vertx vertx;
  private final String self;
  private final boolean clustered;
  private final long heartbeatMs;
  private final long timeoutNanos;
  private final DeliveryOptions requestOptions;
  private final Supplier<Future<JsonObject>> heartbeatSource;
  private final Map<String, Node> nodes = new TreeMap<>();
  /** Other nodes' operations: the last state published (or fetched), by id. */
  private final Map<String, JsonObject> remoteOps = new HashMap<>();
  private final List<MessageConsumer<?>> consumers = new ArrayList<>();
  private final List<Long> timers = new ArrayList<>();
  private boolean beating;
  private java.util.function.Consumer<JsonObject> remoteChange = op -> { };

  Fleet(Vertx vertx, String self, boolean clustered, long heartbeatMs, long timeoutMs, long requestTimeoutMs,
      Supplier<Future<JsonObject>> heartbeatSource) {
    this.vertx = vertx;
    this.self = self;
    this.clustered = clustered;
    this.heartbeatMs = heartbeatMs;
    this.timeoutNanos = timeoutMs * 1_000_000L;
    // Between nodes a request must not wait the full API timeout on a node that just died.
    this.requestOptions = new DeliveryOptions().setSendTimeout(Math.min(requestTimeoutMs, Math.max(1000, timeoutMs)));
    this.heartbeatSource = heartbeatSource;
    Node me = new Node(self);
    me.lastSeen = Instant.now();
    me.lastSeenNanos = System.nanoTime();
    nodes.put(self, me);
  }

  Future<Void> start() {
    if (clustered) {
      consumers.add(vertx.eventBus().<JsonObject>consumer(NODES_HEARTBEAT, this::onHeartbeat));
      consumers.add(vertx.eventBus().<JsonObject>consumer(OPS_UPDATES, this::onUpdate));
    }
    // The first heartbeat already carries this node's resources: placement may read them at once.
    Future<Void> firstSample = heartbeatSource.get().timeout(heartbeatMs * 2, java.util.concurrent.TimeUnit.MILLISECONDS)
        .onSuccess(beat -> nodes.get(self).heartbeat = beat.put(NODE, self))
        .<Void>mapEmpty().otherwiseEmpty();
    Future<Void> started = firstSample.onSuccess(v -> {
      beat();
      timers.add(vertx.setPeriodic(heartbeatMs, id -> beat()));
    });
    if (clustered) {
      timers.add(vertx.setPeriodic(Math.max(50, Math.min(500, heartbeatMs / 2)), id -> checkLiveness()));
    }
    List<Future<?>> ready = new ArrayList<>(consumers.stream().map(MessageConsumer::completion).toList());
    ready.add(started);
    return Future.all(ready).mapEmpty();
  }

  Future<Void> stop() {
    timers.forEach(vertx::cancelTimer);
    return Future.all(consumers.stream().map(MessageConsumer::unregister).toList()).mapEmpty();
  }

  /** Called with each new state of another node's operation (to move multi-node parents). */
  void onRemoteChange(java.util.function.Consumer<JsonObject> listener) {
    this.remoteChange = listener;
  }

  boolean clustered() {
    return clustered;
  }

  /** Nodes that answer now, this one included, by name. */
  List<String> upNodes() {
    return nodes.values().stream().filter(n -> !n.lost).map(n -> n.name).toList();
  }

  /** The other nodes that answer now: the ones a fleet-wide question goes to. */
  List<String> peers() {
    return nodes.values().stream().filter(n -> !n.lost && !n.name.equals(self)).map(n -> n.name).toList();
  }

  Node node(String name) {
    return nodes.get(name);
  }

  // ------------------------------------------------------------------ heartbeats and liveness

  /**
   * Publishes the heartbeat at once with the latest facts, and gathers fresh ones for the next: a
   * slow sample (a busy disk, a busy worker pool) must never delay the "I am alive" itself.
   */
  private void beat() {
    Node me = nodes.get(self);
    me.lastSeen = Instant.now();
    me.lastSeenNanos = System.nanoTime();
    if (clustered) {
      vertx.eventBus().publish(NODES_HEARTBEAT, me.heartbeat.copy().put(NODE, self));
    }
    if (beating) {
      return;
    }
    beating = true;
    heartbeatSource.get().onComplete(ar -> {
      beating = false;
      if (ar.succeeded()) {
        me.heartbeat = ar.result().put(NODE, self);
      } else {
        log.warn("Could not gather this node's resources for its heartbeat: {}", ar.cause().getMessage());
      }
    });
  }

  private void onHeartbeat(Message<JsonObject> msg) {
    JsonObject beat = msg.body();
    String name = beat.getString(NODE);
    if (name == null || name.equals(self)) {
      return;
    }
    Node node = nodes.get(name);
    boolean isNew = node == null;
    if (isNew) {
      node = new Node(name);
      nodes.put(name, node);
    }
    boolean returned = node.lost;
    node.heartbeat = beat;
    node.lastSeen = Instant.now();
    node.lastSeenNanos = System.nanoTime();
    node.lost = false;
    if (isNew || returned) {
      log.info("Node {} {} the fleet", name, isNew ? "joined" : "is back in");
      learnOperationsOf(name);
    }
  }

  /** A node that joins (or comes back) may have operations this node never saw change: fetch them once. */
  private void learnOperationsOf(String name) {
    vertx.eventBus().<JsonObject>request(onNode(name, OPS_LIST), new JsonObject(), requestOptions).onSuccess(reply -> {
      JsonArray ops = reply.body().getJsonArray(OPERATIONS, new JsonArray());
      for (int i = 0; i < ops.size(); i++) {
        remember(ops.getJsonObject(i));
      }
    });
  }

  private void checkLiveness() {
    long now = System.nanoTime();
    for (Node node : nodes.values()) {
      if (node.name.equals(self) || node.lost || now - node.lastSeenNanos < timeoutNanos) {
        continue;
      }
      node.lost = true;
      log.warn("Node {} lost: no heartbeat for {} ms", node.name, (now - node.lastSeenNanos) / 1_000_000);
      markLost(node.name);
    }
  }

  /**
   * The lost node's unfinished operations become {@code error}/{@code node_lost}. Every node records
   * that; the surviving node with the smallest name also publishes it, so subscribers see it once.
   */
  private void markLost(String name) {
    boolean announcer = upNodes().get(0).equals(self);
    Instant now = Instant.now();
    String text = "node " + name + " lost";
    for (Map.Entry<String, JsonObject> e : remoteOps.entrySet()) {
      JsonObject op = e.getValue();
      if (!name.equals(op.getString(NODE)) || OperationStatus.fromWire(op.getString(STATUS)).isFinished()) {
        continue;
      }
      JsonObject lost = op.copy()
          .put(STATUS, OperationStatus.ERROR.wireName())
          .put(MESSAGE, text)
          .put(ERROR, new HoistException(ErrorCode.NODE_LOST, text).toJson())
          .put(SEQ, op.getLong(SEQ, 0L) + 1)
          .put(UPDATED_AT, now.toString())
          .put("node_lost", true);
      lost.getJsonObject(STAGE, new JsonObject()).put(BYTES_PER_SECOND, 0.0).put(ETA_SECONDS, (Object) null);
      JsonArray logs = lost.getJsonArray(LOGS, new JsonArray());
      logs.add(LOG_TIME.format(now) + " ERROR " + text + " (no heartbeat); the operation resumes when the node is back");
      e.setValue(lost);
      remoteChange.accept(lost);
      if (announcer) {
        vertx.eventBus().publish(OPS_UPDATES, lost);
      }
    }
  }

  // ------------------------------------------------------------------ other nodes' operations

  private void onUpdate(Message<JsonObject> msg) {
    JsonObject change = msg.body();
    String node = change.getString(NODE);
    if (self.equals(node)) {
      return;
    }
    if (change.getBoolean(REMOVED, false)) {
      remoteOps.remove(change.getString(OPERATION_ID));
      return;
    }
    remember(change);
  }

  private void remember(JsonObject op) {
    String id = op.getString(OPERATION_ID);
    String node = op.getString(NODE);
    if (id == null || node == null || node.equals(self)) {
      return;
    }
    JsonObject known = remoteOps.get(id);
    // The owner's word replaces a lost marker; otherwise only newer states count.
    boolean fromOwner = !op.getBoolean("node_lost", false);
    if (known == null || op.getLong(SEQ, 0L) > known.getLong(SEQ, 0L)
        || fromOwner && known.getBoolean("node_lost", false)) {
      remoteOps.put(id, op);
      remoteChange.accept(op);
    }
  }

  /** The last known state of another node's operation, or null. */
  JsonObject known(String id) {
    return remoteOps.get(id);
  }

  /** Last known operations of a node that does not answer (for the fleet-wide list). */
  List<JsonObject> knownOf(String node) {
    return remoteOps.values().stream().filter(op -> node.equals(op.getString(NODE))).toList();
  }

  List<String> lostNodes() {
    return nodes.values().stream().filter(n -> n.lost).map(n -> n.name).toList();
  }

  /** Asks a node's registry directly; refuses at once for a node known to be lost. */
  Future<JsonObject> ask(String node, String address, JsonObject body) {
    Node n = nodes.get(node);
    if (n == null) {
      return Future.failedFuture(new HoistException(ErrorCode.NOT_FOUND, "no node named '" + node + "' in the fleet"));
    }
    if (n.lost) {
      return Future.failedFuture(new HoistException(ErrorCode.SERVICE_UNAVAILABLE, "node " + node + " is lost (no heartbeat since "
          + n.lastSeen + "); try again when it is back"));
    }
    return vertx.eventBus().<JsonObject>request(onNode(node, address), body, requestOptions).map(m -> {
      remember(m.body());
      return m.body();
    });
  }

  // ------------------------------------------------------------------ placement and the node list

  /**
   * Where a load should run: the named node, or else the node with the most memory free for models
   * (then the most disk). Fails 400 for an unknown name and 503 for a lost node.
   */
  String place(String requested) {
    if (requested != null) {
      Node n = nodes.get(requested);
      if (n == null) {
        throw new HoistException(ErrorCode.BAD_REQUEST, "node: no node named '" + abbreviate(requested)
            + "' in the fleet; nodes: " + String.join(", ", nodes.keySet()));
      }
      if (n.lost) {
        throw new HoistException(ErrorCode.SERVICE_UNAVAILABLE, "node " + requested + " is lost (no heartbeat since "
            + n.lastSeen + "); choose another node or wait until it is back");
      }
      return requested;
    }
    return nodes.values().stream().filter(n -> !n.lost)
        .max(Comparator.comparingLong(Node::memoryFree).thenComparingLong(Node::diskFree)
            .thenComparing(n -> n.name, Comparator.reverseOrder()))
        .map(n -> n.name).orElse(self);
  }

  /** {@code "all"} or a list of names → the nodes to load on, each checked as {@link #place}. */
  List<String> placeAll(Object requested) {
    List<String> out = new ArrayList<>();
    if ("all".equals(requested)) {
      out.addAll(upNodes());
    } else if (requested instanceof JsonArray && !((JsonArray) requested).isEmpty()) {
      for (Object item : (JsonArray) requested) {
        if (!(item instanceof String)) {
          throw new HoistException(ErrorCode.BAD_REQUEST, "nodes: must be \"all\" or a list of node names");
        }
        String name = place((String) item);
        if (!out.contains(name)) {
          out.add(name);
        }
      }
    } else {
      throw new HoistException(ErrorCode.BAD_REQUEST, "nodes: must be \"all\" or a non-empty list of node names");
    }
    return out;
  }

  JsonObject describe() {
    JsonArray list = new JsonArray();
    for (Node n : nodes.values()) {
      JsonObject beat = n.heartbeat;
      list.add(new JsonObject()
          .put(NODE, n.name)
          .put(STATUS, n.lost ? "lost" : "up")
          .put("self", n.name.equals(self))
          .put("last_seen", n.lastSeen == null ? null : n.lastSeen.toString())
          .put("started_at", beat.getString("started_at"))
          .put("resources", beat.getJsonObject("resources", new JsonObject()).copy())
          .put("loaded_models", beat.getJsonArray("loaded_models", new JsonArray()).copy())
          .put("active_operations", beat.getInteger("active_operations", 0)));
    }
    return new JsonObject().put("self", self).put("clustered", clustered).put(NODES, list);
  }

  private static String abbreviate(String s) {
    return s.length() > 64 ? s.substring(0, 64) + "…" : s;
  }
}
