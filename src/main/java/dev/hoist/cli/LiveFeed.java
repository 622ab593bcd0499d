package dev.hoist.cli;

import io.vertx.core.http.WebSocket;
import io.vertx.core.json.DecodeException;
import io.vertx.core.json.JsonObject;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * A subscription on Hoist's WebSocket ({@code /api/llm/ws}), read from the CLI's main thread: the
 * event loop only queues frames, so drawing to the terminal never blocks it.
 */
final class LiveFeed implements AutoCloseable {

  /** Queued when the connection closes; never sent by a server. */
  private static final JsonObject CLOSED = new JsonObject().put("type", "closed");

  private final WebSocket ws;
  private final BlockingQueue<JsonObject> frames = new LinkedBlockingQueue<>();

  private LiveFeed(WebSocket ws) {
    this.ws = ws;
  }

  /** Connects and subscribes to one operation id or {@code "*"}. */
  static LiveFeed subscribe(ServerApi api, String operationId) {
    WebSocket ws = api.webSocket();
    LiveFeed feed = new LiveFeed(ws);
    ws.textMessageHandler(text -> {
      try {
        feed.frames.add(new JsonObject(text));
      } catch (DecodeException | ClassCastException e) {
        // not a frame of ours; the protocol only sends JSON objects
      }
    });
    ws.closeHandler(v -> feed.frames.add(CLOSED));
    ws.exceptionHandler(err -> feed.frames.add(CLOSED));
    ws.writeTextMessage(new JsonObject().put("type", "subscribe").put("operation_id", operationId).encode());
    return feed;
  }

  /**
   * The next frame ({@code snapshot}, {@code update}, {@code removed}, {@code subscribed},
   * {@code error}), waiting up to {@code timeoutMs}; null on timeout.
   * @throws CliFailure when the connection is gone
   */
  JsonObject next(long timeoutMs) throws InterruptedException {
    JsonObject frame = frames.poll(timeoutMs, TimeUnit.MILLISECONDS);
    if (frame == CLOSED) {
      frames.add(CLOSED); // stays closed for later calls
      throw new CliFailure(HoistCli.EXIT_UNAVAILABLE, "the connection to the server was lost");
    }
    return frame;
  }

  static boolean isOperation(JsonObject frame) {
    String type = frame.getString("type");
    return "snapshot".equals(type) || "update".equals(type);
  }

  @Override
  public void close() {
    ws.closeHandler(null);
    ws.exceptionHandler(null);
    ws.close();
  }
}
