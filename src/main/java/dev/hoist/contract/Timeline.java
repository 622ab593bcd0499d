package dev.hoist.contract;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.time.Duration;
import java.time.Instant;

/** Reads an operation's {@code timeline} ({@code [{status, at}]}): how long each stage took. */
public final class Timeline {

  private Timeline() {
  }

  /** Seconds between the last time {@code from} was entered and the next {@code to}, or null. */
  public static Double span(JsonObject operation, String from, String to) {
    JsonArray timeline = operation.getJsonArray("timeline", new JsonArray());
    Instant start = null;
    Instant end = null;
    for (int i = 0; i < timeline.size(); i++) {
      JsonObject step = timeline.getJsonObject(i);
      if (from.equals(step.getString(EventBusContract.STATUS))) {
        start = Instant.parse(step.getString("at"));
        end = null;
      } else if (to.equals(step.getString(EventBusContract.STATUS)) && start != null && end == null) {
        end = Instant.parse(step.getString("at"));
      }
    }
    return start == null || end == null ? null : Duration.between(start, end).toMillis() / 1000.0;
  }
}
