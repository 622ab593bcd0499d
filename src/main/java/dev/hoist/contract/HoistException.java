package dev.hoist.contract;

import io.vertx.core.json.JsonObject;

/** A failure a user can understand: a stable {@link ErrorCode} and a message that says what to do. */
public class HoistException extends RuntimeException {

  private final ErrorCode code;
  private final boolean retryable;

  public HoistException(ErrorCode code, String message) {
    this(code, message, code.retryable, null);
  }

  public HoistException(ErrorCode code, String message, boolean retryable, Throwable cause) {
    super(message, cause, false, false);
    this.code = code;
    this.retryable = retryable;
  }

  public ErrorCode code() {
    return code;
  }

  public boolean retryable() {
    return retryable;
  }

  /** The {@code error} object of the wire format. */
  public JsonObject toJson() {
    return new JsonObject()
        .put(EventBusContract.CODE, code.wireName())
        .put(EventBusContract.MESSAGE, getMessage())
        .put(EventBusContract.RETRYABLE, retryable);
  }

  public static HoistException fromJson(JsonObject error) {
    ErrorCode code = ErrorCode.fromWire(error.getString(EventBusContract.CODE));
    return new HoistException(code == null ? ErrorCode.INTERNAL : code,
        error.getString(EventBusContract.MESSAGE, "unknown error"),
        error.getBoolean(EventBusContract.RETRYABLE, false), null);
  }
}
