package dev.hoist.contract;

import io.vertx.core.eventbus.Message;
import io.vertx.core.eventbus.ReplyException;
import io.vertx.core.eventbus.ReplyFailure;

/**
 * How failures cross the event bus: {@code fail(status, "<code>: <message>")} on the consumer side,
 * and back to a {@link HoistException} on the caller's side (timeout and no handlers → 503).
 */
public final class Failures {

  private Failures() {
  }

  /** Answers {@code message} with the failure, or with an internal error for anything unexpected. */
  public static void reply(Message<?> message, Throwable failure) {
    HoistException e = toHoist(failure);
    message.fail(e.code().httpStatus, e.code().wireName() + ": " + e.getMessage());
  }

  /** Maps anything that went wrong into a {@link HoistException}, hiding Java internals. */
  public static HoistException toHoist(Throwable failure) {
    if (failure instanceof HoistException) {
      return (HoistException) failure;
    }
    if (failure instanceof ReplyException) {
      ReplyException re = (ReplyException) failure;
      if (re.failureType() == ReplyFailure.TIMEOUT) {
        return new HoistException(ErrorCode.SERVICE_UNAVAILABLE,
            "Hoist did not answer in time; try again in a moment");
      }
      if (re.failureType() == ReplyFailure.NO_HANDLERS) {
        return new HoistException(ErrorCode.SERVICE_UNAVAILABLE,
            "a Hoist service is not running (" + re.getMessage() + ")");
      }
      return parse(re.failureCode(), re.getMessage());
    }
    return new HoistException(ErrorCode.INTERNAL,
        "internal error: " + (failure.getMessage() == null ? failure.getClass().getSimpleName() : failure.getMessage()),
        true, failure);
  }

  /** Parses {@code "<code>: <message>"}; a text without our prefix keeps the status's default code. */
  static HoistException parse(int status, String text) {
    String msg = text == null ? "" : text;
    int colon = msg.indexOf(": ");
    if (colon > 0) {
      ErrorCode code = ErrorCode.fromWire(msg.substring(0, colon));
      if (code != null) {
        return new HoistException(code, msg.substring(colon + 2));
      }
    }
    return new HoistException(ErrorCode.forStatus(status), msg.isEmpty() ? "request failed" : msg);
  }
}
