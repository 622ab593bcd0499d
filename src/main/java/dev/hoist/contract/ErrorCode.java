package dev.hoist.contract;

import java.util.Locale;

/**
 * Stable error codes. Each has the HTTP status it maps to and whether trying again may help.
 * Codes are the wire names in lower case ({@code model_not_found}).
 */
public enum ErrorCode {
  BAD_REQUEST(400, false),
  INVALID_MODEL_NAME(400, false),
  MODEL_NOT_FOUND(404, false),
  NOT_FOUND(404, false),
  METHOD_NOT_ALLOWED(405, false),
  OPERATION_ACTIVE(409, false),
  OPERATION_FINISHED(409, false),
  UNSUPPORTED_MEDIA_TYPE(415, false),
  PAYLOAD_TOO_LARGE(413, false),
  UNAUTHORIZED(401, false),
  FORBIDDEN(403, false),
  RATE_LIMITED(429, true),
  GATED_REPO(403, false),
  CHECKSUM_MISMATCH(502, true),
  INVALID_MODEL_FILE(422, false),
  NO_MODEL_FILES(422, false),
  INSUFFICIENT_DISK(507, false),
  INSUFFICIENT_MEMORY(507, false),
  HUB_ERROR(502, true),
  HUB_UNREACHABLE(503, true),
  SERVICE_UNAVAILABLE(503, true),
  TIMED_OUT(504, true),
  CANCELLED(409, true),
  NATIVE_SERVICE_FAILED(502, true),
  MODEL_NOT_LOADED(404, false),
  /** The node running an operation left the fleet; it resumes when the node comes back. */
  NODE_LOST(503, true),
  INTERNAL(500, true);

  public final int httpStatus;
  public final boolean retryable;

  ErrorCode(int httpStatus, boolean retryable) {
    this.httpStatus = httpStatus;
    this.retryable = retryable;
  }

  public String wireName() {
    return name().toLowerCase(Locale.ROOT);
  }

  /** The code for a wire name, or null if it is not one of ours. */
  public static ErrorCode fromWire(String name) {
    if (name == null) {
      return null;
    }
    try {
      return valueOf(name.toUpperCase(Locale.ROOT));
    } catch (IllegalArgumentException e) {
      return null;
    }
  }

  /** The most fitting code for an HTTP-like status that carried no code of ours. */
  public static ErrorCode forStatus(int status) {
    switch (status) {
      case 400: return BAD_REQUEST;
      case 404: return NOT_FOUND;
      case 405: return METHOD_NOT_ALLOWED;
      case 409: return OPERATION_ACTIVE;
      case 415: return UNSUPPORTED_MEDIA_TYPE;
      case 413: return PAYLOAD_TOO_LARGE;
      case 401: return UNAUTHORIZED;
      case 403: return FORBIDDEN;
      case 429: return RATE_LIMITED;
      case 503: return SERVICE_UNAVAILABLE;
      case 504: return TIMED_OUT;
      default: return INTERNAL;
    }
  }
}
