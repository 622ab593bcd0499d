package dev.hoist.embed;

import dev.hoist.HoistConfig;
import dev.hoist.download.DownloadVerticle;
import dev.hoist.gateway.GatewayVerticle;
import dev.hoist.load.LoadVerticle;
import dev.hoist.registry.RegistryVerticle;
import io.vertx.core.Deployable;
import io.vertx.core.DeploymentOptions;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.Collections;
import java.util.EnumSet;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Deploys any subset of Hoist's four verticles into a Vert.x instance the host application owns:
 *
 * <pre>{@code
 * HoistModules.builder(config).registry().download().load().deploy(vertx)
 *     .onSuccess(hoist -> HoistClient.create(vertx).load("demo-tiny"));
 * }</pre>
 *
 * <p>The verticles talk only over the event bus, so a subset is useful on its own: the stages on a
 * worker node of a cluster, the registry and gateway elsewhere; or everything but the gateway in an
 * application that has its own HTTP server and uses {@link dev.hoist.client.HoistClient}.
 * {@code config} is Hoist's configuration (the keys of {@link HoistConfig}); it is validated before
 * anything is deployed.
 *
 * <p>Order: load, gateway, download, registry — the stages before the registry, so operations it
 * resumes after a restart find them. If the subset contains the download stage and the gateway and
 * {@code HOIST_MIRROR_ENDPOINT} is not set, the download stage fetches "mirror" models from this
 * gateway's {@code /hub}; without a gateway, set {@code HOIST_MIRROR_ENDPOINT} (or use only catalog
 * entries of other hubs). If one verticle fails to start, the ones already deployed are undeployed.
 */
public final class HoistModules {

  private static final Logger log = LoggerFactory.getLogger(HoistModules.class);

  /** Hoist's verticles, in the order they are deployed. */
  public enum Module {
    LOAD, GATEWAY, DOWNLOAD, REGISTRY
  }

  private HoistModules() {
  }

  /** A builder with no module chosen yet. */
  public static Builder builder(JsonObject config) {
    return new Builder(config);
  }

  /** Chooses the modules, then {@link #deploy(Vertx)}. */
  public static final class Builder {
    private final JsonObject config;
    private final Set<Module> modules = EnumSet.noneOf(Module.class);

    private Builder(JsonObject config) {
      this.config = Objects.requireNonNull(config, "config").copy();
    }

    /** Owner of all operation state; needs the download and load stages somewhere on the bus. */
    public Builder registry() {
      return with(Module.REGISTRY);
    }

    /** The download stage: hub client, cache, resumable verified transfers. */
    public Builder download() {
      return with(Module.DOWNLOAD);
    }

    /** The load stage: validation, memory check, paging in, resident models. */
    public Builder load() {
      return with(Module.LOAD);
    }

    /** The HTTP server: REST API, WebSocket, dashboard, /health, the hub mirror. */
    public Builder gateway() {
      return with(Module.GATEWAY);
    }

    /** All four, as {@code java -jar hoist.jar} runs them. */
    public Builder all() {
      return with(Module.values());
    }

    public Builder with(Module... chosen) {
      Collections.addAll(modules, chosen);
      return this;
    }

    /** Deploys the chosen modules; fails (deploying nothing) if none is chosen or the config is invalid. */
    public Future<EmbeddedHoist> deploy(Vertx vertx) {
      Objects.requireNonNull(vertx, "vertx");
      HoistConfig settings;
      try {
        if (modules.isEmpty()) {
          throw new IllegalStateException("choose at least one module: registry(), download(), load(), gateway() or all()");
        }
        settings = new HoistConfig(config).validate();
        if (modules.contains(Module.REGISTRY)) {
          Files.createDirectories(settings.dataDir()); // the registry keeps hoist.db there
        }
      } catch (Exception e) {
        return Future.failedFuture(e);
      }
      List<String> ids = new ArrayList<>();
      Set<Module> chosen = EnumSet.copyOf(modules);
      GatewayVerticle gateway = chosen.contains(Module.GATEWAY) ? new GatewayVerticle() : null;
      Future<Void> chain = Future.succeededFuture();
      for (Module module : Module.values()) {
        if (chosen.contains(module)) {
          chain = chain.compose(v -> vertx.deployVerticle(verticle(module, gateway),
              new DeploymentOptions().setConfig(configFor(module, settings, gateway)))).map(id -> {
                ids.add(id);
                return null;
              });
        }
      }
      return chain
          .map(v -> new EmbeddedHoist(vertx, ids, chosen, gateway == null ? -1 : gateway.actualPort()))
          .recover(err -> {
            // Half a Hoist answers some requests and not others: take down what did start.
            return new EmbeddedHoist(vertx, ids, chosen, -1).undeploy().transform(v -> Future.failedFuture(err));
          });
    }

    private static Deployable verticle(Module module, GatewayVerticle gateway) {
      switch (module) {
        case LOAD: return new LoadVerticle();
        case GATEWAY: return gateway;
        case DOWNLOAD: return new DownloadVerticle();
        default: return new RegistryVerticle();
      }
    }

    /** The download stage learns where this node's mirror is once the gateway has bound its port. */
    private JsonObject configFor(Module module, HoistConfig settings, GatewayVerticle gateway) {
      if (module != Module.DOWNLOAD || settings.mirrorEndpoint() != null) {
        return config;
      }
      if (gateway != null && settings.mirrorEnabled()) {
        return config.copy().put(HoistConfig.MIRROR_ENDPOINT,
            "http://" + loopbackFor(settings.httpHost()) + ":" + gateway.actualPort() + "/hub");
      }
      log.warn("Download stage without a gateway and without {}: catalog entries on the 'mirror' hub cannot be fetched",
          HoistConfig.MIRROR_ENDPOINT);
      return config;
    }

    /** A wildcard bind address is reached through loopback (as in Hoist.deploy). */
    private static String loopbackFor(String host) {
      return "0.0.0.0".equals(host) || "::".equals(host) || "[::]".equals(host) ? "127.0.0.1"
          : host.contains(":") && !host.startsWith("[") ? "[" + host + "]" : host;
    }
  }
}
