package dev.hoist.support;

import dev.hoist.mirror.HubMirror;
import io.vertx.core.Future;
import io.vertx.core.Handler;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpServer;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A hub for tests: a real HTTP server on 127.0.0.1 serving a directory with the hub protocol (the
 * same mirror code Hoist embeds), with an optional fault handler in front of it and a count of the
 * body bytes it was asked to send.
 */
public final class TestHub {

  private final HttpServer server;
  private final AtomicLong requestedBytes;
  private final String base;

  private TestHub(HttpServer server, AtomicLong requestedBytes, String base) {
    this.server = server;
    this.requestedBytes = requestedBytes;
    this.base = base;
  }

  /** As {@link #start}, over HTTPS with {@code cert} on {@code host} (which the endpoint then names). */
  public static Future<TestHub> startTls(Vertx vertx, Path root, io.vertx.core.net.KeyCertOptions cert, String host) {
    io.vertx.core.http.HttpServerOptions options = new io.vertx.core.http.HttpServerOptions().setSsl(true).setKeyCertOptions(cert);
    return start(vertx, root, null, options, host, "https");
  }

  /** Starts a hub over {@code root} ({@code <root>/<owner>/<name>/...}); {@code fault} may be null. */
  public static Future<TestHub> start(Vertx vertx, Path root, Handler<RoutingContext> fault) {
    return start(vertx, root, fault, new io.vertx.core.http.HttpServerOptions(), "127.0.0.1", "http");
  }

  private static Future<TestHub> start(Vertx vertx, Path root, Handler<RoutingContext> fault,
      io.vertx.core.http.HttpServerOptions options, String host, String scheme) {
    HubMirror mirror = new HubMirror(vertx, root);
    AtomicLong requested = new AtomicLong();
    Router router = Router.router(vertx);
    router.route("/hub/*").handler(ctx -> {
      if (ctx.request().path().contains("/resolve/")) {
        ctx.addEndHandler(ar -> requested.addAndGet(ctx.response().bytesWritten()));
      }
      ctx.next();
    });
    if (fault != null) {
      router.route("/hub/*").handler(fault);
    }
    router.route("/hub/*").subRouter(mirror.router());
    return vertx.createHttpServer(options).requestHandler(router).listen(0, host)
        .map(server -> new TestHub(server, requested, scheme + "://" + host + ":" + server.actualPort()));
  }

  public int port() {
    return server.actualPort();
  }

  /** The endpoint to give Hoist as HF_ENDPOINT. */
  public String endpoint() {
    return base + "/hub";
  }

  /** Body bytes the hub sent for file downloads (resolve answers), cut connections included. */
  public long requestedBytes() {
    return requestedBytes.get();
  }

  public Future<Void> close() {
    return server.close();
  }
}
