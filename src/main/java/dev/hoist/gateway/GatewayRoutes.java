package dev.hoist.gateway;

import static dev.hoist.contract.EventBusContract.*;

import dev.hoist.HoistConfig;
import dev.hoist.contract.ErrorCode;
import dev.hoist.contract.HoistException;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.eventbus.DeliveryOptions;
import io.vertx.core.eventbus.Message;
import io.vertx.core.json.DecodeException;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import io.vertx.ext.web.handler.BodyHandler;
import java.util.List;

/**
 * Hoist's REST API: every route declared in one block, one short method per route, each turning
 * the request into an event-bus request. The gateway mounts it on its own server; a host
 * application can mount {@link #router(Vertx, JsonObject)} on its own router under a prefix.
 */
public final class GatewayRoutes {

  private static final long MAX_BODY_BYTES = 64 * 1024;

  private final Vertx vertx;
  private final DeliveryOptions requestOptions;
  /** For reads whose JSON goes to the client as it is: the registry answers with text. */
  private final DeliveryOptions textReplyOptions;
  private final Access access;
  private final RateLimiter loadLimiter;

  GatewayRoutes(Vertx vertx, HoistConfig settings, Access access) {
    this.vertx = vertx;
    this.requestOptions = new DeliveryOptions().setSendTimeout(settings.requestTimeoutMs());
    this.textReplyOptions = new DeliveryOptions().setSendTimeout(settings.requestTimeoutMs())
        .addHeader(REPLY_FORMAT, REPLY_AS_TEXT);
    this.access = access;
    this.loadLimiter = new RateLimiter(settings.loadRatePerMinute());
  }

  /**
   * A router with the REST API ({@code /api/llm/...}) and the WebSocket ({@code /api/llm/ws}), its
   * own error mapping included, for a host application to mount:
   * {@code host.route("/hoist/*").subRouter(GatewayRoutes.router(vertx, config))}. The registry,
   * download and load verticles must be deployed (in this Vert.x or its cluster).
   */
  public static Router router(Vertx vertx, JsonObject config) {
    HoistConfig settings = new HoistConfig(config).validate();
    Access access = new Access(settings);
    LiveUpdates live = new LiveUpdates(vertx, settings.requestTimeoutMs(), settings.wsMaxSubscriptions(),
        settings.wsIdleSeconds(), settings.wsMaxQueuedBytes(), settings.wsMaxMessageBytes());
    live.start();
    Router router = Router.router(vertx);
    router.get(GatewayVerticle.WS_PATH).handler(ctx -> {
      Integer refused = access.checkWebSocket(ctx.request().headers(), ctx.request().query(), ctx.request().scheme(),
          ctx.request().authority() == null ? null : ctx.request().authority().toString());
      if (refused != null) {
        ctx.fail(refused);
        return;
      }
      ctx.request().toWebSocket().onSuccess(live::accept).onFailure(ctx::fail);
    });
    new GatewayRoutes(vertx, settings, access).declare(router);
    router.route().failureHandler(ApiErrors::handle);
    return router;
  }

  /** Declares the API on {@code router}: access control, body limits, then the routes. */
  void declare(Router router) {
    router.route("/api/*").handler(access::handle);
    router.route("/api/*").handler(BodyHandler.create().setBodyLimit(MAX_BODY_BYTES).setHandleFileUploads(false));

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
    router.post("/api/llm/models/:model_name/touch").handler(this::touchModel);
    router.get("/api/llm/nodes").handler(this::listNodes);
    router.route("/api/*").handler(ctx -> ctx.fail(404));
  }

  private void startLoad(RoutingContext ctx) {
    JsonObject body = jsonBody(ctx);
    request(OPS_CREATE, body).onSuccess(op -> {
      boolean joined = op.getBoolean("joined", false);
      String id = op.getString(OPERATION_ID);
      JsonObject accepted = new JsonObject()
          .put(OPERATION_ID, id)
          .put(MESSAGE, joined
              ? "Model loading already in progress for " + op.getString(MODEL_NAME) + "; joined operation " + id
              : "Model loading started for " + op.getString(MODEL_NAME))
          .put(STATUS, joined ? "joined" : "started")
          .put(NODE, op.getString(NODE));
      if (op.containsKey(CHILDREN)) {
        accepted.put(CHILDREN, op.getJsonArray(CHILDREN));
      }
      ctx.response().setStatusCode(202)
          .putHeader("Content-Type", "application/json")
          .putHeader("Location", "/api/llm/progress/" + id)
          .end(accepted.encode());
    }).onFailure(ctx::fail);
  }

  private void listOperations(RoutingContext ctx) {
    requestText(OPS_LIST, new JsonObject()).onSuccess(list -> json(ctx, list)).onFailure(ctx::fail);
  }

  private void getOperation(RoutingContext ctx) {
    requestText(OPS_GET, idOf(ctx)).onSuccess(op -> json(ctx, op)).onFailure(ctx::fail);
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

  private void listNodes(RoutingContext ctx) {
    request(NODES_LIST, new JsonObject()).onSuccess(nodes -> json(ctx, nodes)).onFailure(ctx::fail);
  }

  private void listModels(RoutingContext ctx) {
    request(MODELS_LIST, new JsonObject()).onSuccess(models -> json(ctx, models)).onFailure(ctx::fail);
  }

  private void touchModel(RoutingContext ctx) {
    request(MODELS_TOUCH, new JsonObject().put(MODEL_NAME, ctx.pathParam("model_name")))
        .onSuccess(result -> json(ctx, result)).onFailure(ctx::fail);
  }

  private void unloadModel(RoutingContext ctx) {
    request(MODELS_UNLOAD, new JsonObject().put(MODEL_NAME, ctx.pathParam("model_name")))
        .onSuccess(result -> json(ctx, result)).onFailure(ctx::fail);
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

  private Future<JsonObject> request(String address, JsonObject body) {
    return vertx.eventBus().<JsonObject>request(address, body, requestOptions).map(Message::body);
  }

  /** A read answered as JSON text, passed to the client without decoding it. */
  private Future<String> requestText(String address, JsonObject body) {
    return vertx.eventBus().<String>request(address, body, textReplyOptions).map(Message::body);
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
    json(ctx, body.encode());
  }

  private static void json(RoutingContext ctx, String body) {
    ctx.response().putHeader("Content-Type", "application/json").end(body);
  }
}
