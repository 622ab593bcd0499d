package dev.hoist.download;

import dev.hoist.contract.ErrorCode;
import dev.hoist.contract.HoistException;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import java.time.Duration;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.time.format.DateTimeParseException;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.Consumer;
import java.util.function.Supplier;

/**
 * Which failures are worth another attempt, and how long to wait before it: exponential backoff
 * with jitter from HOIST_DOWNLOAD_RETRY_BASE_MS up to 30 s, or what the hub asked for in
 * {@code Retry-After} (capped at a minute).
 */
final class Retries {

  static final long MAX_BACKOFF_MS = 30_000;
  static final long MAX_RETRY_AFTER_MS = 60_000;

  private Retries() {
  }

  /**
   * The network's failures (reset, refused, closed, timed out, stalled), 429 and 5xx are transient;
   * anything the hub said clearly (404, 401, a wrong size or range) or our own disk's failures are not:
   * the same request would fail the same way.
   */
  static boolean isTransient(Throwable err) {
    if (err instanceof TransientFailure || err instanceof HubClient.RetryableHubStatus) {
      return true;
    }
    if (err instanceof HoistException) {
      return ((HoistException) err).code() == ErrorCode.HUB_UNREACHABLE;
    }
    return true;
  }

  static long delayMs(int failures, Throwable err, long baseMs) {
    if (err instanceof HubClient.RetryableHubStatus) {
      Long asked = retryAfterMs(((HubClient.RetryableHubStatus) err).retryAfter);
      if (asked != null) {
        return asked;
      }
    }
    long exp = Math.min(MAX_BACKOFF_MS, baseMs << Math.min(failures, 10));
    return exp / 2 + ThreadLocalRandom.current().nextLong(exp / 2 + 1);
  }

  /** {@code Retry-After} as seconds or an HTTP date; null if absent or unreadable. */
  static Long retryAfterMs(String header) {
    if (header == null) {
      return null;
    }
    String value = header.trim();
    try {
      if (value.matches("\\d{1,9}")) {
        return Math.min(MAX_RETRY_AFTER_MS, Long.parseLong(value) * 1000);
      }
      ZonedDateTime at = ZonedDateTime.parse(value, DateTimeFormatter.RFC_1123_DATE_TIME);
      return Math.max(0, Math.min(MAX_RETRY_AFTER_MS, Duration.between(ZonedDateTime.now(at.getZone()), at).toMillis()));
    } catch (DateTimeParseException | ArithmeticException e) {
      return null;
    }
  }

  /** A {@code Retry-After} value fit to quote in a message: a number or a date, nothing else. */
  static String quotable(String retryAfter) {
    return retryAfter != null && retryAfterMs(retryAfter) != null && retryAfter.length() <= 40 ? retryAfter.trim() : null;
  }

  /**
   * Runs {@code action} until it succeeds, fails for good, or has failed {@code max} + 1 times in a
   * row; {@code warn} hears about each retry.
   */
  static <T> Future<T> retrying(Vertx vertx, String what, Supplier<Future<T>> action, int max, long baseMs,
      Consumer<String> warn) {
    return attempt(vertx, what, action, max, baseMs, warn, 0);
  }

  private static <T> Future<T> attempt(Vertx vertx, String what, Supplier<Future<T>> action, int max, long baseMs,
      Consumer<String> warn, int failures) {
    Future<T> tried;
    try {
      tried = action.get();
    } catch (RuntimeException e) {
      tried = Future.failedFuture(e);
    }
    return tried.recover(err -> {
      if (!isTransient(err)) {
        return Future.failedFuture(err);
      }
      if (failures >= max) {
        return Future.failedFuture(gaveUp(what, failures + 1, err));
      }
      long delay = delayMs(failures, err, baseMs);
      warn.accept(retryLine(what, delay, failures + 2, max + 1, err));
      Promise<T> next = Promise.promise();
      vertx.setTimer(Math.max(1, delay), t -> attempt(vertx, what, action, max, baseMs, warn, failures + 1).onComplete(next));
      return next.future();
    });
  }

  static HoistException gaveUp(String what, int attempts, Throwable err) {
    return new HoistException(ErrorCode.HUB_UNREACHABLE, "could not " + what + " after " + attempts + " attempts: "
        + HubClient.describe(err), true, err);
  }

  static String retryLine(String what, long delayMs, int attempt, int of, Throwable err) {
    return "Retrying " + what + " in " + String.format("%.1f s", delayMs / 1000.0) + " (attempt " + attempt + " of " + of + "): "
        + HubClient.describe(err);
  }

  /** Worth another attempt, resuming from what is on disk. */
  static class TransientFailure extends HoistException {
    TransientFailure(String message) {
      super(ErrorCode.HUB_UNREACHABLE, message, true, null);
    }
  }
}
