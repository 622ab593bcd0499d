package dev.hoist.registry;

import io.vertx.core.Future;

import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.client.WebClient;
import io.vertx.ext.web.client.WebClientOptions;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Tells configured URLs when an operation ends (completed, error, cancelled): a POST of the
 * operation's JSON, retried with backoff. A failing webhook is logged; it never blocks or fails the
 * operation. URLs come only from configuration.
 */
final class Webhooks {

  private static final Logger log = LoggerFactory.getLogger(Webhooks.class);

  private final Vertx vertx;
  private final List<String> urls;
  private final int retries;
  private final long baseMs;
  private final WebClient client;

  Webhooks(Vertx vertx, List<String> urls, int retries, long baseMs) {
    this.vertx = vertx;
    this.urls = urls;
    this.retries = retries;
    this.baseMs = baseMs;
    this.client = urls.isEmpty() ? null : WebClient.create(vertx, new WebClientOptions()
        .setConnectTimeout(5_000).setFollowRedirects(false).setUserAgent("hoist-webhook/0.1"));
  }

  void notify(String event, JsonObject operation) {
    for (String url : urls) {
      send(url, event, operation, 0);
    }
  }

  private void send(String url, String event, JsonObject operation, int failures) {
    client.postAbs(url)
        .timeout(10_000)
        .putHeader("X-Hoist-Event", event)
        .sendJsonObject(new JsonObject().put("event", event).put("operation", operation))
        .compose(resp -> resp.statusCode() / 100 == 2 ? Future.succeededFuture()
            : Future.failedFuture("HTTP " + resp.statusCode()))
        .onFailure(err -> {
          if (failures >= retries) {
            log.warn("Webhook {} for operation {} ({}) failed after {} attempts: {}", url,
                operation.getString("operation_id"), event, failures + 1, err.getMessage());
            return;
          }
          long exp = Math.min(60_000, baseMs << Math.min(failures, 10));
          long delay = exp / 2 + ThreadLocalRandom.current().nextLong(exp / 2 + 1);
          log.info("Webhook {} failed ({}); retrying in {} ms", url, err.getMessage(), delay);
          vertx.setTimer(delay, t -> send(url, event, operation, failures + 1));
        });
  }

  void close() {
    if (client != null) {
      client.close();
    }
  }

}
