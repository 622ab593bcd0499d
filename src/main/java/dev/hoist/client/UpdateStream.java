package dev.hoist.client;

import static dev.hoist.contract.EventBusContract.*;

import dev.hoist.contract.Failures;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Handler;
import io.vertx.core.Vertx;
import io.vertx.core.eventbus.DeliveryOptions;
import io.vertx.core.eventbus.Message;
import io.vertx.core.eventbus.MessageConsumer;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.core.streams.ReadStream;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The live states of one operation, or of all ({@code "*"}), as a Vert.x {@link ReadStream}: first a
 * snapshot of each matching operation, then every change, each operation's {@code seq} strictly
 * growing — nothing twice, nothing out of order.
 *
 * <p>How: it listens on the registry's {@code hoist.ops.updates} publish address <em>before</em> it
 * asks for the snapshot ({@code hoist.ops.get} / {@code hoist.ops.list}); changes that arrive while
 * the snapshot is on the way wait for it, and anything not newer than what was already delivered
 * for that operation is dropped. The event bus delivers one publisher's messages in order, so the
 * registry's consecutive {@code seq}s arrive consecutively.
 *
 * <p>Following one id, the stream ends (the end handler is called) after it delivered the
 * operation in a final state — {@code completed}, {@code error} or {@code cancelled} — or when the
 * operation is removed. Following {@code "*"}, it runs until {@link #close()}; removals are not
 * delivered. If the snapshot fails (e.g. no such operation: a {@code HoistException} with code
 * {@code not_found}) the exception handler is called and nothing else is.
 *
 * <p>Items wait in memory until a handler is set and while the stream is paused. Handlers run on
 * the Vert.x context the stream was created on; its methods may be called from any thread.
 */
public final class UpdateStream implements ReadStream<Operation> {

  /** Follow every operation. */
  public static final String ALL = "*";

  private final Vertx vertx;
  private final Context context;
  private final String topic;
  private final DeliveryOptions requestOptions;
  private final Map<String, Long> lastSeq = new HashMap<>();
  /** Changes that arrived while the snapshot was on the way, in arrival order. */
  private final List<JsonObject> backlog = new ArrayList<>();
  /** Operations ready for the handler. */
  private final ArrayDeque<Operation> pending = new ArrayDeque<>();
  private MessageConsumer<JsonObject> consumer;
  private boolean syncing = true;
  private long demand = Long.MAX_VALUE;
  private boolean draining;
  private boolean ended;
  private boolean endDelivered;
  private boolean closed;
  private Throwable failure;
  private Handler<Operation> handler;
  private Handler<Void> endHandler;
  private Handler<Throwable> exceptionHandler;

  UpdateStream(Vertx vertx, String operationId, DeliveryOptions requestOptions) {
    this.vertx = vertx;
    this.context = vertx.getOrCreateContext();
    this.topic = operationId;
    this.requestOptions = requestOptions;
    onContext(this::start);
  }

  /** The operation id followed, or {@code "*"}. */
  public String topic() {
    return topic;
  }

  private boolean followsAll() {
    return ALL.equals(topic);
  }

  private void start() {
    consumer = vertx.eventBus().consumer(OPS_UPDATES, this::onChange);
    // Registered before the snapshot is asked for: no change can fall between the two.
    consumer.completion().compose(v -> snapshot()).onComplete(ar -> {
      if (closed) {
        return;
      }
      if (ar.failed()) {
        fail(Failures.toHoist(ar.cause()));
        return;
      }
      syncing = false;
      JsonArray ops = ar.result();
      for (int i = 0; i < ops.size() && !ended; i++) {
        accept(ops.getJsonObject(i));
      }
      List<JsonObject> queued = new ArrayList<>(backlog);
      backlog.clear();
      for (JsonObject change : queued) {
        if (!ended) {
          accept(change);
        }
      }
      drain();
    });
  }

  private Future<JsonArray> snapshot() {
    if (followsAll()) {
      return vertx.eventBus().<JsonObject>request(OPS_LIST, new JsonObject(), requestOptions)
          .map(m -> m.body().getJsonArray(OPERATIONS, new JsonArray()));
    }
    return vertx.eventBus().<JsonObject>request(OPS_GET, new JsonObject().put(OPERATION_ID, topic), requestOptions)
        .map(m -> new JsonArray().add(m.body()));
  }

  private void onChange(Message<JsonObject> msg) {
    JsonObject change = msg.body();
    if (closed || ended || change == null || !(followsAll() || topic.equals(change.getString(OPERATION_ID)))) {
      return;
    }
    if (syncing) {
      backlog.add(change);
    } else {
      accept(change);
      drain();
    }
  }

  /** Queues a state if it is newer than what this stream already has for that operation. */
  private void accept(JsonObject change) {
    String id = change.getString(OPERATION_ID);
    long seq = change.getLong(SEQ, 0L);
    if (id == null || seq <= lastSeq.getOrDefault(id, 0L)) {
      return;
    }
    lastSeq.put(id, seq);
    if (change.getBoolean(REMOVED, false)) {
      if (!followsAll()) {
        end();
      }
      return;
    }
    Operation op = new Operation(change);
    pending.add(op);
    if (!followsAll() && op.isFinished()) {
      end();
    }
  }

  /** No more items will come: stop listening; the end handler runs once the queue is delivered. */
  private void end() {
    ended = true;
    unregister();
  }

  private void fail(Throwable cause) {
    failure = cause;
    ended = true;
    endDelivered = true; // a failed stream does not also "end"
    pending.clear();
    unregister();
    if (exceptionHandler != null) {
      exceptionHandler.handle(cause);
    }
  }

  private void unregister() {
    if (consumer != null) {
      consumer.unregister();
      consumer = null;
    }
  }

  private void drain() {
    if (draining) {
      return; // a handler called fetch/resume: the loop below carries on
    }
    draining = true;
    try {
      while (handler != null && demand > 0 && !pending.isEmpty()) {
        if (demand != Long.MAX_VALUE) {
          demand--;
        }
        handler.handle(pending.poll());
      }
    } finally {
      draining = false;
    }
    if (ended && !endDelivered && pending.isEmpty() && endHandler != null) {
      endDelivered = true;
      endHandler.handle(null);
    }
  }

  /** Stops following: no further items and no end event. Safe to call more than once. */
  public Future<Void> close() {
    return Future.future(promise -> onContext(() -> {
      closed = true;
      ended = true;
      endDelivered = true;
      pending.clear();
      backlog.clear();
      MessageConsumer<JsonObject> c = consumer;
      consumer = null;
      (c == null ? Future.<Void>succeededFuture() : c.unregister()).onComplete(promise);
    }));
  }

  @Override
  public UpdateStream exceptionHandler(Handler<Throwable> handler) {
    onContext(() -> {
      exceptionHandler = handler;
      if (handler != null && failure != null) {
        handler.handle(failure);
      }
    });
    return this;
  }

  @Override
  public UpdateStream handler(Handler<Operation> handler) {
    onContext(() -> {
      this.handler = handler;
      drain();
    });
    return this;
  }

  @Override
  public UpdateStream pause() {
    onContext(() -> demand = 0);
    return this;
  }

  @Override
  public UpdateStream resume() {
    onContext(() -> {
      demand = Long.MAX_VALUE;
      drain();
    });
    return this;
  }

  @Override
  public UpdateStream fetch(long amount) {
    if (amount < 0) {
      throw new IllegalArgumentException("fetch amount must be >= 0, was " + amount);
    }
    onContext(() -> {
      demand = demand + amount < 0 ? Long.MAX_VALUE : demand + amount;
      drain();
    });
    return this;
  }

  @Override
  public UpdateStream endHandler(Handler<Void> endHandler) {
    onContext(() -> {
      this.endHandler = endHandler;
      drain();
    });
    return this;
  }

  /** State is touched on the stream's context only, so no locks are needed. */
  private void onContext(Runnable action) {
    if (Vertx.currentContext() == context) {
      action.run();
    } else {
      context.runOnContext(v -> action.run());
    }
  }
}
