package dev.hoist.gateway;

import static dev.hoist.contract.EventBusContract.*;

import dev.hoist.contract.ErrorCode;
import dev.hoist.contract.Failures;
import dev.hoist.contract.HoistException;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.eventbus.DeliveryOptions;
import io.vertx.core.eventbus.Message;
import io.vertx.core.eventbus.MessageConsumer;
import io.vertx.core.http.ServerWebSocket;
import io.vertx.core.http.WebSocketFrameType;
import io.vertx.core.http.impl.ws.WebSocketFrameImpl;
import io.vertx.core.json.DecodeException;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Fans the registry's published changes out to WebSocket subscribers. A subscriber gets a snapshot
 * of each matching operation, then every change in order with consecutive {@code seq}s; a change
 * that arrives while its snapshot is on the way waits for it, so nothing is sent twice or out of
 * order. Each change is serialized once, to UTF-8 bytes, and those very bytes go to every subscriber
 * (one shared buffer, written as a text frame; no per-subscriber encoding or copy).
 *
 * <p>Keep-alive: one timer, every 100 ms, pings the connections that are due, instead of one periodic
 * timer per connection. They wait in the order they are due (each is pinged a fixed period after it
 * opened, then after its last ping), so a sweep looks only at those. Sweeping often keeps the pings
 * spread out: with 10,000 connections that opened within seconds of each other, a sweep once a second
 * sent a burst of over a thousand pings at once, and the pongs came back at once — enough to hold up
 * the updates to live subscribers behind them (p99 65-100 ms against 6-20 ms without pings, measured
 * with {@code bench/fanout.sh}).
 */
final class LiveUpdates {

  private static final Logger log = LoggerFactory.getLogger(LiveUpdates.class);
  static final String ALL = "*";
  /** How often due pings go out. */
  private static final long SWEEP_MS = 100;
  /** How long a subscriber may stay too slow to take updates before it is disconnected. */
  private static final long SLOW_GRACE_MS = 10_000;

  private final Vertx vertx;
  private final DeliveryOptions requestOptions;
  private final Set<Subscriber> subscribers = new HashSet<>();
  /** Open connections in the order their pings are due (closed ones are dropped when they come up). */
  private final ArrayDeque<Subscriber> pingOrder = new ArrayDeque<>();
  /**
   * Subscribers by what they follow (an operation id, or "*"): a change visits only those that
   * want it, not every open socket — with thousands of idle connections that scan was the cost.
   */
  private final Map<String, Set<Subscriber>> byTopic = new HashMap<>();
  private final int maxSubscriptions;
  private final long idleMs;
  private final int maxQueuedBytes;
  private final int maxMessageBytes;
  private MessageConsumer<JsonObject> consumer;
  private MessageConsumer<JsonObject> modelEvents;
  private long sweeper = -1;

  LiveUpdates(Vertx vertx, long requestTimeoutMs, int maxSubscriptions, int idleSeconds, int maxQueuedBytes, int maxMessageBytes) {
    this.vertx = vertx;
    this.requestOptions = new DeliveryOptions().setSendTimeout(requestTimeoutMs);
    this.maxSubscriptions = maxSubscriptions;
    this.idleMs = idleSeconds * 1000L;
    this.maxQueuedBytes = maxQueuedBytes;
    this.maxMessageBytes = maxMessageBytes;
  }

  Future<Void> start() {
    consumer = vertx.eventBus().consumer(OPS_UPDATES, this::onChange);
    modelEvents = vertx.eventBus().consumer(MODELS_EVENTS, this::onModelEvent);
    sweeper = vertx.setPeriodic(SWEEP_MS, t -> sweep());
    return Future.all(consumer.completion(), modelEvents.completion()).mapEmpty();
  }

  /** A model unloaded on Hoist's own initiative (keep-alive, eviction): told to everyone following "*". */
  private void onModelEvent(Message<JsonObject> msg) {
    String frame = new JsonObject().put("type", "model").mergeIn(msg.body()).encode();
    for (Subscriber s : byTopic.getOrDefault(ALL, Set.of())) {
      s.send(frame);
    }
  }

  /** Ping at a third of the idle time; a peer that answers nothing for the whole of it is gone. */
  private long pingEveryMs() {
    return Math.max(1000, idleMs / 3);
  }

  /**
   * Pings the connections whose ping is due (each one every {@link #pingEveryMs()}, from when it
   * opened). A pinged connection goes to the back with its next time, a fixed period from now, which
   * is no earlier than anyone's behind it: the queue stays in order without sorting.
   */
  private void sweep() {
    long now = System.nanoTime();
    long every = pingEveryMs() * 1_000_000L;
    Subscriber s;
    while ((s = pingOrder.peek()) != null && now - s.nextPing >= 0) {
      pingOrder.poll();
      if (s.closed) {
        continue;
      }
      s.nextPing = now + every;
      pingOrder.add(s);
      s.keepAlive();
    }
  }

  Future<Void> stop() {
    if (sweeper >= 0) {
      vertx.cancelTimer(sweeper);
    }
    subscribers.forEach(s -> s.ws.close());
    return consumer == null ? Future.succeededFuture() : Future.all(consumer.unregister(), modelEvents.unregister()).mapEmpty();
  }

  int connections() {
    return subscribers.size();
  }

  void accept(ServerWebSocket ws) {
    Subscriber s = new Subscriber(ws);
    subscribers.add(s);
    pingOrder.add(s);
    ws.setWriteQueueMaxSize(maxQueuedBytes);
    ws.textMessageHandler(text -> {
      s.lastHeard = System.nanoTime();
      if (text.length() > maxMessageBytes) {
        ws.close((short) 1009, "message too big: at most " + maxMessageBytes + " bytes");
        return;
      }
      s.onText(text);
    });
    ws.binaryMessageHandler(b -> {
      s.lastHeard = System.nanoTime();
      if (b.length() > maxMessageBytes) {
        ws.close((short) 1009, "message too big: at most " + maxMessageBytes + " bytes");
        return;
      }
      s.sendError(ErrorCode.BAD_REQUEST, "binary messages are not understood; send JSON text");
    });
    ws.pongHandler(b -> s.lastHeard = System.nanoTime());
    ws.closeHandler(v -> {
      s.closed = true;
      subscribers.remove(s);
      new ArrayList<>(s.topics).forEach(topic -> unfollow(s, topic));
    });
    ws.exceptionHandler(err -> log.debug("WebSocket error: {}", err.getMessage()));
  }

  private void onChange(Message<JsonObject> msg) {
    JsonObject change = msg.body();
    String id = change.getString(OPERATION_ID);
    long seq = change.getLong(SEQ, 0L);
    Set<Subscriber> all = byTopic.getOrDefault(ALL, Set.of());
    Set<Subscriber> one = byTopic.getOrDefault(id, Set.of());
    if (all.isEmpty() && one.isEmpty()) {
      return;
    }
    // Serialized once; the same bytes go to every subscriber.
    ByteBuf frame = shared(frame(change.getBoolean(REMOVED, false) ? "removed" : "update", change));
    for (Subscriber s : new ArrayList<>(all)) {
      s.deliver(id, seq, frame);
    }
    for (Subscriber s : new ArrayList<>(one)) {
      if (!all.contains(s)) {
        s.deliver(id, seq, frame);
      }
    }
  }

  private void follow(Subscriber s, String topic) {
    s.topics.add(topic);
    byTopic.computeIfAbsent(topic, k -> new HashSet<>()).add(s);
  }

  private void unfollow(Subscriber s, String topic) {
    s.topics.remove(topic);
    Set<Subscriber> set = byTopic.get(topic);
    if (set != null && set.remove(s) && set.isEmpty()) {
      byTopic.remove(topic);
    }
  }

  /** Text encoded once into a buffer that every subscriber's frame shares (each write takes a retained duplicate). */
  static ByteBuf shared(String text) {
    return Unpooled.wrappedBuffer(text.getBytes(StandardCharsets.UTF_8));
  }

  static String frame(String type, JsonObject op) {
    if ("removed".equals(type)) {
      return new JsonObject().put("type", type).put(OPERATION_ID, op.getString(OPERATION_ID)).put(SEQ, op.getLong(SEQ)).encode();
    }
    if (op.containsKey("type")) { // never from the registry; done exactly as before (the merge decides)
      return new JsonObject().put("type", type).mergeIn(op).encode();
    }
    // {"type":…, then the operation's own members: the same text as merging it into a new object, without
    // copying its map first.
    String body = op.encode();
    String head = "{\"type\":\"" + type + "\"";
    return body.length() <= 2 ? head + "}" : head + "," + body.substring(1);
  }

  /** One WebSocket connection and what it follows. */
  private final class Subscriber {
    final ServerWebSocket ws;
    final Set<String> topics = new HashSet<>();
    final Map<String, Long> lastSeq = new HashMap<>();
    /** Snapshots on the way; while any is, changes queue up in arrival order. */
    int syncing;
    final List<Object[]> backlog = new ArrayList<>(); // {id, seq, frame (ByteBuf)}
    /** Latest frame per operation while the socket's write queue is full. */
    final Map<String, Object[]> coalesced = new LinkedHashMap<>();
    long lastHeard = System.nanoTime();
    long nextPing = lastHeard + pingEveryMs() * 1_000_000L;
    boolean closed;
    long slowSince;

    Subscriber(ServerWebSocket ws) {
      this.ws = ws;
    }

    boolean wants(String id) {
      return topics.contains(ALL) || topics.contains(id);
    }

    void keepAlive() {
      if (ws.isClosed()) {
        return;
      }
      if ((System.nanoTime() - lastHeard) / 1_000_000 > idleMs) {
        ws.close((short) 1001, "idle: no frame or pong for " + idleMs / 1000 + " s");
        return;
      }
      ws.writePing(io.vertx.core.buffer.Buffer.buffer("hoist"));
    }

    void onText(String text) {
      JsonObject msg;
      try {
        msg = new JsonObject(text);
      } catch (DecodeException | ClassCastException e) {
        sendError(ErrorCode.BAD_REQUEST, "message is not a JSON object; send {\"type\":\"subscribe\",\"operation_id\":\"<id>\" or \"*\"}");
        return;
      }
      Object type = msg.getValue("type");
      Object id = msg.getValue(OPERATION_ID);
      if (!(id instanceof String) || ((String) id).isEmpty() || ((String) id).length() > 128) {
        sendError(ErrorCode.BAD_REQUEST, "operation_id must be an operation's id or \"*\"");
        return;
      }
      if ("subscribe".equals(type)) {
        if (!topics.contains(id) && topics.size() >= maxSubscriptions) {
          sendError(ErrorCode.BAD_REQUEST, "too many subscriptions on this connection (at most " + maxSubscriptions
              + "); subscribe to \"*\" to follow every operation");
          return;
        }
        subscribe((String) id);
      } else if ("unsubscribe".equals(type)) {
        unfollow(this, (String) id);
        send(new JsonObject().put("type", "unsubscribed").put(OPERATION_ID, id).encode());
      } else {
        sendError(ErrorCode.BAD_REQUEST, "unknown message type '" + type + "'; use subscribe or unsubscribe");
      }
    }

    void subscribe(String id) {
      follow(this, id);
      syncing++;
      Future<JsonArray> snapshot = ALL.equals(id)
          ? vertx.eventBus().<JsonObject>request(OPS_LIST, new JsonObject(), requestOptions)
              .map(m -> m.body().getJsonArray(OPERATIONS))
          : vertx.eventBus().<JsonObject>request(OPS_GET, new JsonObject().put(OPERATION_ID, id), requestOptions)
              .map(m -> new JsonArray().add(m.body()));
      snapshot.onComplete(ar -> {
        syncing--;
        if (ar.succeeded()) {
          JsonArray ops = ar.result();
          for (int i = 0; i < ops.size(); i++) {
            JsonObject op = ops.getJsonObject(i);
            String opId = op.getString(OPERATION_ID);
            long seq = op.getLong(SEQ, 0L);
            if (seq > lastSeq.getOrDefault(opId, 0L)) {
              lastSeq.put(opId, seq);
              send(frame("snapshot", op));
            }
          }
          send(new JsonObject().put("type", "subscribed").put(OPERATION_ID, id).put("count", ops.size()).encode());
        } else {
          unfollow(this, id);
          HoistException e = Failures.toHoist(ar.cause());
          sendError(e.code(), e.getMessage());
        }
        if (syncing == 0) {
          List<Object[]> queued = new ArrayList<>(backlog);
          backlog.clear();
          queued.forEach(q -> deliver((String) q[0], (Long) q[1], (ByteBuf) q[2]));
        }
      });
    }

    void deliver(String id, long seq, ByteBuf frame) {
      if (syncing > 0) {
        backlog.add(new Object[] {id, seq, frame});
        return;
      }
      if (!wants(id) || seq <= lastSeq.getOrDefault(id, 0L)) {
        return; // already covered by a snapshot
      }
      if (ws.writeQueueFull()) {
        // A slow reader gets the latest state of each operation once it catches up (its client sees a
        // seq gap and re-syncs); one that stays too slow is let go, so it cannot hold memory forever.
        coalesced.put(id, new Object[] {id, seq, frame});
        if (slowSince == 0) {
          slowSince = System.nanoTime();
        } else if ((System.nanoTime() - slowSince) / 1_000_000 > SLOW_GRACE_MS) {
          log.info("Disconnecting a WebSocket subscriber that stayed too slow for {} s", SLOW_GRACE_MS / 1000);
          ws.close((short) 1013, "too slow: updates queued for more than " + SLOW_GRACE_MS / 1000 + " s");
          return;
        }
        ws.drainHandler(v -> flushCoalesced());
        return;
      }
      slowSince = 0;
      lastSeq.put(id, seq);
      if (!ws.isClosed()) {
        // A retained duplicate: its own indexes over the shared bytes; Netty releases it once written.
        ws.writeFrame(new WebSocketFrameImpl(WebSocketFrameType.TEXT, frame.retainedDuplicate(), true));
      }
    }

    void flushCoalesced() {
      List<Object[]> pending = new ArrayList<>(coalesced.values());
      coalesced.clear();
      pending.forEach(q -> deliver((String) q[0], (Long) q[1], (ByteBuf) q[2]));
    }

    void sendError(ErrorCode code, String message) {
      send(new JsonObject().put("type", "error")
          .put("error", new JsonObject().put("code", code.wireName()).put("message", message)).encode());
    }

    void send(String text) {
      if (!ws.isClosed()) {
        ws.writeTextMessage(text);
      }
    }
  }
}
