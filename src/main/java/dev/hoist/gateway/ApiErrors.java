package dev.hoist.gateway;

import dev.hoist.contract.ErrorCode;
import dev.hoist.contract.Failures;
import dev.hoist.contract.HoistException;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.RoutingContext;
import io.vertx.ext.web.handler.HttpException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The gateway's one failure handler: every error becomes {@code {"error": {"code", "message"}}}
 * with the matching status. No stack traces or class names reach a client.
 */
final class ApiErrors {

  private static final Logger log = LoggerFactory.getLogger(ApiErrors.class);

  private ApiErrors() {
  }

  static void handle(RoutingContext ctx) {
    if (ctx.response().ended() || ctx.response().headWritten()) {
      return;
    }
    HoistException error = toHoist(ctx);
    if (error.code() == ErrorCode.INTERNAL) {
      log.error("{} {} failed", ctx.request().method(), ctx.request().path(), ctx.failure());
    }
    send(ctx, error);
  }

  static void send(RoutingContext ctx, HoistException error) {
    JsonObject body = new JsonObject().put("error", new JsonObject()
        .put("code", error.code().wireName())
        .put("message", error.getMessage()));
    ctx.response()
        .setStatusCode(error.code().httpStatus)
        .putHeader("Content-Type", "application/json")
        .end(body.encode());
  }

  private static HoistException toHoist(RoutingContext ctx) {
    Throwable failure = ctx.failure();
    if (failure == null || failure instanceof HttpException) {
      int status = failure != null ? ((HttpException) failure).getStatusCode() : ctx.statusCode();
      return forStatus(status, ctx);
    }
    return Failures.toHoist(failure);
  }

  private static HoistException forStatus(int status, RoutingContext ctx) {
    switch (status) {
      case 404:
        return new HoistException(ErrorCode.NOT_FOUND, "no such endpoint: " + ctx.request().method() + " " + ctx.request().path());
      case 405:
        return new HoistException(ErrorCode.METHOD_NOT_ALLOWED, ctx.request().method() + " is not allowed on " + ctx.request().path());
      case 413:
        return new HoistException(ErrorCode.PAYLOAD_TOO_LARGE, "request body is too large (at most 64 KiB)");
      case 400:
        return new HoistException(ErrorCode.BAD_REQUEST, "bad request");
      default:
        return new HoistException(ErrorCode.forStatus(status), "request failed with status " + status);
    }
  }
}
