package dev.hoist.dashboard;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpClient;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.http.HttpClientRequest;
import io.vertx.core.http.HttpClientResponse;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.http.HttpServerResponse;
import io.vertx.core.http.PoolOptions;
import io.vertx.core.http.RequestOptions;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A reverse proxy in front of Hoist that passes plain HTTP and refuses every WebSocket upgrade with
 * 503, like a corporate proxy that does not carry WebSockets. The browser really fails to open the
 * socket, so the dashboard must fall back to polling. (Chrome's DevTools request blocking,
 * {@code Network.setBlockedURLs}, does not apply to WebSocket handshakes in Chromium 156: checked.)
 * The Host header is passed through, so the page's origin checks see the address the browser used.
 */
final class WebSocketBlockingProxy {

  private static final Set<String> HOP_BY_HOP = Set.of("connection", "keep-alive", "proxy-connection", "transfer-encoding",
      "upgrade", "te", "trailer", "host");

  private final HttpServer server;
  private final HttpClient client;
  final AtomicInteger refusedUpgrades = new AtomicInteger();

  private WebSocketBlockingProxy(HttpServer server, HttpClient client) {
    this.server = server;
    this.client = client;
  }

  static Future<WebSocketBlockingProxy> start(Vertx vertx, int targetPort) {
    HttpClient client = vertx.createHttpClient(new HttpClientOptions().setDefaultHost("127.0.0.1").setDefaultPort(targetPort),
        new PoolOptions().setHttp1MaxSize(16));
    HttpServer server = vertx.createHttpServer();
    WebSocketBlockingProxy proxy = new WebSocketBlockingProxy(server, client);
    server.requestHandler(proxy::handle);
    return server.listen(0, "127.0.0.1").map(s -> proxy);
  }

  int port() {
    return server.actualPort();
  }

  private void handle(HttpServerRequest req) {
    if ("websocket".equalsIgnoreCase(req.getHeader("Upgrade"))) {
      refusedUpgrades.incrementAndGet();
      req.response().setStatusCode(503).putHeader("Content-Type", "text/plain").end("WebSockets are blocked by this proxy");
      return;
    }
    req.pause();
    client.request(new RequestOptions().setMethod(req.method()).setURI(req.uri())).onComplete(ar -> {
      if (ar.failed()) {
        req.resume();
        req.response().setStatusCode(502).end();
        return;
      }
      HttpClientRequest out = ar.result();
      req.headers().forEach((name, value) -> {
        if (!HOP_BY_HOP.contains(name.toLowerCase())) {
          out.headers().add(name, value);
        }
      });
      if (req.authority() != null) {
        out.authority(req.authority());
      }
      out.send(req).onComplete(sent -> {
        if (sent.failed()) {
          if (!req.response().headWritten()) {
            req.response().setStatusCode(502).end();
          }
          return;
        }
        HttpClientResponse in = sent.result();
        HttpServerResponse res = req.response().setStatusCode(in.statusCode()).setStatusMessage(in.statusMessage());
        in.headers().forEach((name, value) -> {
          if (!HOP_BY_HOP.contains(name.toLowerCase())) {
            res.headers().add(name, value);
          }
        });
        boolean bodyless = in.statusCode() == 204 || in.statusCode() == 304 || req.method() == io.vertx.core.http.HttpMethod.HEAD;
        if (!bodyless && !res.headers().contains("Content-Length")) {
          res.setChunked(true);
        }
        in.pipeTo(res);
      });
    });
  }

  Future<Void> close() {
    return server.close().compose(v -> client.close());
  }
}
