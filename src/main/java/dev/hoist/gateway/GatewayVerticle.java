package dev.hoist.gateway;

import static dev.hoist.contract.EventBusContract.*;

import dev.hoist.HoistConfig;
import dev.hoist.contract.ErrorCode;
import dev.hoist.contract.HoistException;
import dev.hoist.mirror.HubMirror;
import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import io.vertx.core.eventbus.DeliveryOptions;
import io.vertx.core.eventbus.Message;
import io.vertx.core.eventbus.MessageConsumer;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.core.http.ServerWebSocketHandshake;
import io.vertx.core.json.DecodeException;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import io.vertx.ext.web.handler.BodyHandler;
import io.vertx.ext.web.handler.FileSystemAccess;
import io.vertx.ext.web.handler.StaticHandler;
import io.vertx.ext.web.healthchecks.HealthCheckHandler;
import io.vertx.ext.healthchecks.HealthChecks;
import io.vertx.core.buffer.Buffer;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The HTTP face of Hoist: the REST API, WebSocket push, the dashboard, health, and the embedded hub
 * mirror. Every route turns into an event-bus request; the gateway holds no operation state.
 */
public class GatewayVerticle extends VerticleBase {

  private static final Logger log = LoggerFactory.getLogger(GatewayVerticle.class);
  static final String WS_PATH = "/api/llm/ws";
  private static final long PING_TIMEOUT_MS = 2_000;

  private HoistConfig settings;
  private DeliveryOptions requestOptions;
  private HttpServer server;
  private LiveUpdates live;
  private MessageConsumer<JsonObject> ping;
  private MessageConsumer<JsonObject> metricsFeed;
  private HoistMetrics metrics;
  private HealthChecks readiness;
  private Access access;
  private volatile int actualPort = -1;

  @Override
  public Future<?> start() {
    settings = new HoistConfig(config()).validate();
    requestOptions = new DeliveryOptions().setSendTimeout(settings.requestTimeoutMs());
    Access.checkBind(settings);
    access = new Access(settings);
    live = new LiveUpdates(vertx, settings.requestTimeoutMs(), settings.wsMaxSubscriptions(), settings.wsIdleSeconds(),
        settings.wsMaxQueuedBytes(), settings.wsMaxMessageBytes());
    HubMirror mirror = settings.mirrorEnabled() ? new HubMirror(vertx, settings.mirrorDir()) : null;
    ping = vertx.eventBus().localConsumer(PING_PREFIX + VERTICLE_GATEWAY, m -> m.reply(new JsonObject().put(VERTICLE, VERTICLE_GATEWAY)));
    metrics = new HoistMetrics(live::connections);
    String node = settings.nodeName();
    // In a fleet every node's updates arrive here; this node's metrics count its own operations.
    metricsFeed = vertx.eventBus().consumer(OPS_UPDATES, m -> {
      String owner = m.body().getString(NODE);
      if (owner == null || owner.equals(node)) {
        metrics.record(m.body());
      }
    });
    readiness = Readiness.create(vertx, settings);
    Future<Void> mirrorReady = mirror == null ? Future.succeededFuture() : mirror.prepare(settings.mirrorDemoModels());
    return Future.all(live.start(), ping.completion(), metricsFeed.completion(), mirrorReady)
        .compose(v -> {
          server = vertx.createHttpServer(serverOptions())
              .requestHandler(router(mirror))
              .webSocketHandshakeHandler(this::handshake)
              .webSocketHandler(live::accept);
          return server.listen();
        })
        .onSuccess(s -> {
          actualPort = s.actualPort();
          log.info("Gateway listening on http://{}:{}", settings.httpHost(), actualPort);
        });
  }

  /** The port the server is bound to (useful with port 0), or -1 before it is. */
  public int actualPort() {
    return actualPort;
  }

  private Router router(HubMirror mirror) {
    Router router = Router.router(vertx);
    router.route().handler(GatewayVerticle::securityHeaders);
    router.route("/metrics").handler(access::handle);
    new GatewayRoutes(vertx, settings, access).declare(router);
    router.get("/health").handler(this::health);
    router.get("/ready").handler(HealthCheckHandler.createWithHealthChecks(readiness));
    router.get("/metrics").handler(this::metrics);
    router.get("/openapi.json").handler(this::openApi);
    if (mirror != null) {
      router.route("/hub/*").subRouter(mirror.router());
    }
    router.route("/*").handler(staticFiles(settings.webroot()));

    router.route().failureHandler(ApiErrors::handle);
    return router;
  }


  /** 200 once every verticle answers on the event bus. */
  private void health(RoutingContext ctx) {
    Map<String, Future<Message<Object>>> pings = new LinkedHashMap<>();
    DeliveryOptions quick = new DeliveryOptions().setSendTimeout(PING_TIMEOUT_MS);
    for (String name : List.of(VERTICLE_REGISTRY, VERTICLE_DOWNLOAD, VERTICLE_LOAD, VERTICLE_GATEWAY)) {
      pings.put(name, vertx.eventBus().request(PING_PREFIX + name, new JsonObject(), quick));
    }
    Future.join(new ArrayList<>(pings.values())).onComplete(ar -> {
      JsonObject checks = new JsonObject();
      boolean up = true;
      for (Map.Entry<String, Future<Message<Object>>> e : pings.entrySet()) {
        checks.put(e.getKey(), e.getValue().succeeded() ? "UP" : "DOWN");
        up &= e.getValue().succeeded();
      }
      ctx.response().setStatusCode(up ? 200 : 503).putHeader("Content-Type", "application/json")
          .end(new JsonObject().put("status", up ? "UP" : "DOWN").put("checks", checks).encode());
    });
  }

  private void metrics(RoutingContext ctx) {
    ctx.response().putHeader("Content-Type", "text/plain; version=0.0.4; charset=utf-8").end(metrics.scrape());
  }

  /** The API's OpenAPI 3 document, packaged in the jar. */
  private void openApi(RoutingContext ctx) {
    vertx.executeBlocking(() -> {
      try (InputStream in = GatewayVerticle.class.getClassLoader().getResourceAsStream("openapi.json")) {
        return in == null ? null : Buffer.buffer(in.readAllBytes());
      }
    }).onSuccess(doc -> {
      if (doc == null) {
        ctx.fail(404);
      } else {
        ctx.response().putHeader("Content-Type", "application/json").end(doc);
      }
    }).onFailure(ctx::fail);
  }

  private void handshake(ServerWebSocketHandshake handshake) {
    if (!WS_PATH.equals(handshake.path())) {
      handshake.reject(404);
      return;
    }
    Integer refused = access.checkWebSocket(handshake.headers(), handshake.query(), handshake.scheme(),
        handshake.authority() == null ? null : handshake.authority().toString());
    if (refused == null && live.connections() >= settings.wsMaxConnections()) {
      refused = 503;
    }
    if (refused != null) {
      log.info("WebSocket refused ({}) from {} with Origin {}", refused, handshake.remoteAddress(), handshake.headers().get("Origin"));
      handshake.reject(refused);
    } else {
      handshake.accept();
    }
  }


  /** The dashboard may only run as itself: no framing, no foreign scripts, no MIME sniffing. */
  private static void securityHeaders(RoutingContext ctx) {
    ctx.response().headers()
        .add("X-Content-Type-Options", "nosniff")
        .add("Referrer-Policy", "no-referrer")
        .add("X-Frame-Options", "DENY")
        .add("Content-Security-Policy", "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:;"
            + " object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'");
    ctx.next();
  }

  /**
   * Limits on every WebSocket frame and message (over them: close 1009), no compression (a
   * deflate bomb cannot inflate), and TLS on the OpenSSL engine when a certificate is configured.
   */
  private HttpServerOptions serverOptions() {
    HttpServerOptions options = new HttpServerOptions()
        .setHost(settings.httpHost())
        .setPort(settings.httpPort())
        // A hard cap well above the limit: LiveUpdates closes with 1009 at the limit itself, which
        // Netty's decoder would not do (it drops the connection without a close frame).
        .setMaxWebSocketFrameSize(Math.max(65_536, settings.wsMaxMessageBytes() * 4))
        .setMaxWebSocketMessageSize(Math.max(65_536, settings.wsMaxMessageBytes() * 4))
        // A peer that does not answer our close frame in 2 s is gone; do not hold its socket for 10.
        .setWebSocketClosingTimeout(2)
        .setPerFrameWebSocketCompressionSupported(false)
        .setPerMessageWebSocketCompressionSupported(false)
        .setCompressionSupported(true);
    return Tls.configure(options, settings);
  }

  // ------------------------------------------------------------------ helpers

  /** The dashboard: a relative webroot is looked up in the working dir, then in the jar. */
  private static StaticHandler staticFiles(String webroot) {
    boolean absolute = java.nio.file.Paths.get(webroot).isAbsolute();
    StaticHandler handler = absolute ? StaticHandler.create(FileSystemAccess.ROOT, webroot) : StaticHandler.create(webroot);
    return handler.setCachingEnabled(false).setIndexPage("index.html");
  }


  @Override
  public Future<?> stop() {
    return Future.all(live.stop(), ping.unregister(), metricsFeed.unregister(), server == null ? Future.succeededFuture() : server.close());
  }
}
