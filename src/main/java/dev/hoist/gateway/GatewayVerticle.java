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
  private static final long MAX_BODY_BYTES = 64 * 1024;
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
  private RateLimiter loadLimiter;
  private volatile int actualPort = -1;

  @Override
  public Future<?> start() {
    settings = new HoistConfig(config()).validate();
    requestOptions = new DeliveryOptions().setSendTimeout(settings.requestTimeoutMs());
    Access.checkBind(settings);
    access = new Access(settings);
    loadLimiter = new RateLimiter(settings.loadRatePerMinute());
    live = new LiveUpdates(vertx, settings.requestTimeoutMs(), settings.wsMaxSubscriptions(), settings.wsIdleSeconds(),
        settings.wsMaxQueuedBytes(), settings.wsMaxMessageBytes());
    HubMirror mirror = settings.mirrorEnabled() ? new HubMirror(vertx, settings.mirrorDir()) : null;
    ping = vertx.eventBus().consumer(PING_PREFIX + VERTICLE_GATEWAY, m -> m.reply(new JsonObject().put(VERTICLE, VERTICLE_GATEWAY)));
    metrics = new HoistMetrics(live::connections);
    metricsFeed = vertx.eventBus().consumer(OPS_UPDATES, m -> metrics.record(m.body()));
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
    router.route("/api/*").handler(access::handle);
    router.route("/api/*").handler(BodyHandler.create().setBodyLimit(MAX_BODY_BYTES).setHandleFileUploads(false));
    router.route("/metrics").handler(access::handle);

    router.post("/api/llm/load").handler(this::rateLimit).handler(this::startLoad);
    router.get("/api/llm/progress").handler(this::listOperations);
    router.get("/api/llm/progress/:operation_id").handler(this::getOperation);
    router.delete("/api/llm/progress/:operation_id").handler(this::deleteOperation);
    router.post("/api/llm/progress/:operation_id/cancel").handler(this::cancelOperation);
    router.post("/api/llm/progress/:operation_id/retry").handler(this::retryOperation);
    router.get("/api/llm/history").handler(this::history);
    router.get("/api/llm/stats").handler(this::stats);
    router.get("/api/llm/schedules").handler(this::listSchedules);
    router.post("/api/llm/schedules").handler(this::createSchedule);
    router.delete("/api/llm/schedules/:id").handler(this::deleteSchedule);
    router.get("/api/llm/models").handler(this::listModels);
    router.post("/api/llm/models/:model_name/unload").handler(this::unloadModel);
    router.get("/health").handler(this::health);
    router.get("/ready").handler(HealthCheckHandler.createWithHealthChecks(readiness));
    router.get("/metrics").handler(this::metrics);
    router.get("/openapi.json").handler(this::openApi);
    if (mirror != null) {
      router.route("/hub/*").subRouter(mirror.router());
    }
    router.route("/api/*").handler(ctx -> ctx.fail(404));
    router.route("/*").handler(staticFiles(settings.webroot()));

    router.route().failureHandler(ApiErrors::handle);
    return router;
  }

  // ------------------------------------------------------------------ routes

  private void startLoad(RoutingContext ctx) {
    JsonObject body = jsonBody(ctx);
    request(OPS_CREATE, body).onSuccess(op -> {
      boolean joined = op.getBoolean("joined", false);
      String id = op.getString(OPERATION_ID);
      ctx.response().setStatusCode(202)
          .putHeader("Content-Type", "application/json")
          .putHeader("Location", "/api/llm/progress/" + id)
          .end(new JsonObject()
              .put(OPERATION_ID, id)
              .put(MESSAGE, joined
                  ? "Model loading already in progress for " + op.getString(MODEL_NAME) + "; joined operation " + id
                  : "Model loading started for " + op.getString(MODEL_NAME))
              .put(STATUS, joined ? "joined" : "started")
              .encode());
    }).onFailure(ctx::fail);
  }

  private void listOperations(RoutingContext ctx) {
    request(OPS_LIST, new JsonObject()).onSuccess(list -> json(ctx, list)).onFailure(ctx::fail);
  }

  private void getOperation(RoutingContext ctx) {
    request(OPS_GET, idOf(ctx)).onSuccess(op -> json(ctx, op)).onFailure(ctx::fail);
  }

  private void deleteOperation(RoutingContext ctx) {
    request(OPS_DELETE, idOf(ctx)).onSuccess(v -> ctx.response().setStatusCode(204).end()).onFailure(ctx::fail);
  }

  private void cancelOperation(RoutingContext ctx) {
    request(OPS_CANCEL, idOf(ctx)).onSuccess(op -> json(ctx, op)).onFailure(ctx::fail);
  }

  private void retryOperation(RoutingContext ctx) {
    request(OPS_RETRY, idOf(ctx)).onSuccess(op -> ctx.response().setStatusCode(202)
        .putHeader("Content-Type", "application/json").end(op.encode())).onFailure(ctx::fail);
  }

  private void history(RoutingContext ctx) {
    JsonObject query = new JsonObject();
    for (String name : List.of("model", "status", "limit")) {
      String value = ctx.request().getParam(name);
      if (value != null && !value.isEmpty()) {
        query.put(name, value);
      }
    }
    request(OPS_HISTORY, query).onSuccess(list -> json(ctx, list)).onFailure(ctx::fail);
  }

  private void stats(RoutingContext ctx) {
    request(OPS_STATS, new JsonObject()).onSuccess(s -> json(ctx, s)).onFailure(ctx::fail);
  }

  private void listSchedules(RoutingContext ctx) {
    request(SCHEDULES_LIST, new JsonObject()).onSuccess(list -> json(ctx, list)).onFailure(ctx::fail);
  }

  private void createSchedule(RoutingContext ctx) {
    request(SCHEDULES_CREATE, jsonBody(ctx)).onSuccess(s -> ctx.response().setStatusCode(201)
        .putHeader("Content-Type", "application/json")
        .putHeader("Location", "/api/llm/schedules/" + s.getString("id"))
        .end(s.encode())).onFailure(ctx::fail);
  }

  private void deleteSchedule(RoutingContext ctx) {
    request(SCHEDULES_DELETE, new JsonObject().put("id", ctx.pathParam("id")))
        .onSuccess(v -> ctx.response().setStatusCode(204).end()).onFailure(ctx::fail);
  }

  private void listModels(RoutingContext ctx) {
    request(MODELS_LIST, new JsonObject()).onSuccess(models -> json(ctx, models)).onFailure(ctx::fail);
  }

  private void unloadModel(RoutingContext ctx) {
    request(MODELS_UNLOAD, new JsonObject().put(MODEL_NAME, ctx.pathParam("model_name")))
        .onSuccess(result -> json(ctx, result)).onFailure(ctx::fail);
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

  /** Per client address, so one busy script cannot crowd out everyone else. */
  private void rateLimit(RoutingContext ctx) {
    long wait = loadLimiter.acquire(ctx.request().remoteAddress() == null ? "?" : ctx.request().remoteAddress().hostAddress());
    if (wait == 0) {
      ctx.next();
      return;
    }
    ctx.response().putHeader("Retry-After", String.valueOf(wait));
    ctx.fail(new HoistException(ErrorCode.RATE_LIMITED, "too many load requests from this address; try again in " + wait + " s"));
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

  private Future<JsonObject> request(String address, JsonObject body) {
    return vertx.eventBus().<JsonObject>request(address, body, requestOptions).map(Message::body);
  }

  private static JsonObject idOf(RoutingContext ctx) {
    return new JsonObject().put(OPERATION_ID, ctx.pathParam("operation_id"));
  }

  private static JsonObject jsonBody(RoutingContext ctx) {
    String type = ctx.request().getHeader("Content-Type");
    if (type == null || !type.toLowerCase().startsWith("application/json")) {
      throw new HoistException(ErrorCode.UNSUPPORTED_MEDIA_TYPE, "send the request body as JSON with Content-Type: application/json");
    }
    String text = ctx.body().buffer() == null ? "" : ctx.body().asString().trim();
    if (!text.startsWith("{")) {
      throw new HoistException(ErrorCode.BAD_REQUEST, "request body must be a JSON object like {\"model_name\": \"demo-tiny\"}");
    }
    try {
      return new JsonObject(text);
    } catch (DecodeException e) {
      throw new HoistException(ErrorCode.BAD_REQUEST, "request body is not valid JSON");
    }
  }

  private static void json(RoutingContext ctx, JsonObject body) {
    ctx.response().putHeader("Content-Type", "application/json").end(body.encode());
  }

  @Override
  public Future<?> stop() {
    return Future.all(live.stop(), ping.unregister(), metricsFeed.unregister(), server == null ? Future.succeededFuture() : server.close());
  }
}
