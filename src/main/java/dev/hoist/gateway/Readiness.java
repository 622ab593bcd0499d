package dev.hoist.gateway;

import static dev.hoist.contract.EventBusContract.*;

import dev.hoist.HoistConfig;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.eventbus.DeliveryOptions;
import io.vertx.core.json.JsonObject;
import io.vertx.core.net.NetClient;
import io.vertx.core.net.NetClientOptions;
import io.vertx.ext.healthchecks.HealthChecks;
import io.vertx.ext.healthchecks.Status;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * {@code /ready}: can Hoist do its job now? Every verticle answers on the event bus, the data dir
 * is writable, and the hub answers a TCP connection (unless HOIST_OFFLINE says not to ask).
 */
final class Readiness {

  private static final long TIMEOUT_MS = 3_000;

  private Readiness() {
  }

  static HealthChecks create(Vertx vertx, HoistConfig config) {
    HealthChecks checks = HealthChecks.create(vertx);
    checks.register("verticles", TIMEOUT_MS, promise -> {
      DeliveryOptions quick = new DeliveryOptions().setSendTimeout(2_000);
      List<Future<?>> pings = new ArrayList<>();
      List<String> names = List.of(VERTICLE_REGISTRY, VERTICLE_DOWNLOAD, VERTICLE_LOAD, VERTICLE_GATEWAY);
      for (String name : names) {
        pings.add(vertx.eventBus().request(PING_PREFIX + name, new JsonObject(), quick));
      }
      Future.join(pings).onComplete(ar -> {
        JsonObject data = new JsonObject();
        boolean ok = true;
        for (int i = 0; i < names.size(); i++) {
          data.put(names.get(i), pings.get(i).succeeded() ? "UP" : "DOWN");
          ok &= pings.get(i).succeeded();
        }
        promise.complete(ok ? Status.OK(data) : Status.KO(data));
      });
    });
    checks.register("data-dir", TIMEOUT_MS, promise -> vertx.executeBlocking(() -> {
      Path dir = config.dataDir();
      Path probe = Files.createTempFile(Files.createDirectories(dir), ".ready", ".probe");
      Files.delete(probe);
      return dir;
    }).onComplete(ar -> promise.complete(ar.succeeded()
        ? Status.OK(new JsonObject().put("path", ar.result().toString()))
        : Status.KO(new JsonObject().put("path", config.dataDir().toString())
            .put("reason", "not writable: " + ar.cause().getMessage())))));
    if (!config.offline()) {
      NetClient net = vertx.createNetClient(new NetClientOptions().setConnectTimeout(2_000));
      checks.register("hub", TIMEOUT_MS, promise -> {
        URI hub = URI.create(config.hfEndpoint());
        int port = hub.getPort() > 0 ? hub.getPort() : "https".equals(hub.getScheme()) ? 443 : 80;
        net.connect(port, hub.getHost()).onComplete(ar -> {
          JsonObject data = new JsonObject().put("endpoint", config.hfEndpoint());
          if (ar.succeeded()) {
            ar.result().close();
            promise.complete(Status.OK(data));
          } else {
            promise.complete(Status.KO(data.put("reason", "unreachable: " + ar.cause().getMessage()
                + " (set HOIST_OFFLINE=true to serve only the embedded mirror)")));
          }
        });
      });
    }
    return checks;
  }
}
