package dev.hoist;

import dev.hoist.cli.HoistCli;
import dev.hoist.cluster.ClusteredVertx;
import dev.hoist.download.DownloadVerticle;
import dev.hoist.gateway.GatewayVerticle;
import dev.hoist.load.LoadVerticle;
import dev.hoist.registry.RegistryVerticle;
import io.vertx.config.ConfigRetriever;
import io.vertx.config.ConfigRetrieverOptions;
import io.vertx.config.ConfigStoreOptions;
import io.vertx.core.DeploymentOptions;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import io.vertx.micrometer.MicrometerMetricsFactory;
import io.vertx.micrometer.MicrometerMetricsOptions;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Hoist's entry point: reads the configuration, deploys the four verticles, and serves.
 *
 * <pre>java -jar hoist.jar [-conf FILE]</pre>
 *
 * With a command as the first argument ({@code load}, {@code ls}, {@code watch} …) it is the
 * command-line client instead ({@link HoistCli}, docs/cli.md).
 *
 * {@link #deploy(Vertx, JsonObject)} does the same inside an existing Vert.x instance.
 */
public final class Hoist {

  private static final Logger log = LoggerFactory.getLogger(Hoist.class);
  public static final String DEFAULT_CONFIG = "conf/config.json";

  private Hoist() {
  }

  /** What {@link #deploy} started: the HTTP port it bound, and how to stop it again. */
  public static final class Deployment {
    private final Vertx vertx;
    private final List<String> ids;
    private final int httpPort;

    Deployment(Vertx vertx, List<String> ids, int httpPort) {
      this.vertx = vertx;
      this.ids = ids;
      this.httpPort = httpPort;
    }

    public int httpPort() {
      return httpPort;
    }

    /** Undeploys in reverse order: the registry stops first and writes what it holds. */
    public Future<Void> undeploy() {
      Future<Void> chain = Future.succeededFuture();
      List<String> reversed = new ArrayList<>(ids);
      java.util.Collections.reverse(reversed);
      for (String id : reversed) {
        chain = chain.compose(v -> vertx.undeploy(id));
      }
      return chain;
    }
  }

  public static void main(String[] args) {
    // "hoist load demo-tiny", "hoist ls", ...: the command-line client, not the server.
    if (args.length > 0 && HoistCli.isCommand(args[0])) {
      System.exit(HoistCli.run(args));
    }
    String confFile = configFileFrom(args);
    // The configuration decides whether this node joins a fleet, so it is read first, with a Vert.x
    // of its own that is closed before the real one starts (nothing may run on a closed context).
    JsonObject config;
    HoistConfig settings;
    Vertx boot = Vertx.vertx();
    try {
      config = loadConfig(boot, confFile).toCompletionStage().toCompletableFuture().get();
      settings = new HoistConfig(config).validate();
    } catch (Exception e) {
      log.error("Hoist could not start: {}", e.getCause() != null ? e.getCause().getMessage() : e.getMessage());
      boot.close();
      System.exit(1);
      return;
    } finally {
      boot.close();
    }
    Vertx[] running = new Vertx[1];
    (settings.clusterEnabled() ? newClusteredVertx(settings) : Future.succeededFuture(newVertx()))
        .compose(vertx -> {
          running[0] = vertx;
          return deploy(vertx, config);
        })
        .onSuccess(d -> log.info("Hoist is up{}: dashboard and API at http://{}:{}/",
            settings.clusterEnabled() ? " as node " + settings.nodeName() + " of fleet " + settings.clusterName() : "",
            displayHost(settings.httpHost()), d.httpPort()))
        .onFailure(err -> {
          log.error("Hoist could not start: {}", err.getMessage());
          (running[0] == null ? Future.succeededFuture() : running[0].close()).onComplete(v -> System.exit(1));
        });
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      try {
        if (running[0] != null) {
          running[0].close().toCompletionStage().toCompletableFuture().get(10, java.util.concurrent.TimeUnit.SECONDS);
        }
      } catch (Exception e) {
        // exiting anyway
      }
    }, "hoist-shutdown"));
  }

  /**
   * A Vert.x instance with Micrometer metrics on, so {@code /metrics} also shows the event bus, HTTP
   * servers and clients, pools and the JVM. Hoist works in any Vert.x; this one is just better observed.
   */
  public static Vertx newVertx() {
    return Vertx.builder().with(observedOptions()).withMetrics(metricsFactory()).build();
  }

  /** As {@link #newVertx()}, joined to the fleet over Hazelcast (HOIST_CLUSTER_*, docs/cluster.md). */
  public static Future<Vertx> newClusteredVertx(HoistConfig settings) {
    return ClusteredVertx.start(settings, observedOptions(), metricsFactory());
  }

  private static VertxOptions observedOptions() {
    // The registry is handed to the factory; Prometheus options would make Vert.x build a second one.
    MicrometerMetricsOptions metrics = new MicrometerMetricsOptions()
        .setEnabled(true)
        .setJvmMetricsEnabled(true);
    return new VertxOptions().setMetricsOptions(metrics);
  }

  private static MicrometerMetricsFactory metricsFactory() {
    return new MicrometerMetricsFactory(new PrometheusMeterRegistry(PrometheusConfig.DEFAULT));
  }

  /** {@code -conf FILE}, else HOIST_CONFIG, else conf/config.json. */
  static String configFileFrom(String[] args) {
    List<String> list = Arrays.asList(args);
    int i = list.indexOf("-conf");
    if (i >= 0 && i + 1 < list.size()) {
      return list.get(i + 1);
    }
    String env = System.getenv("HOIST_CONFIG");
    return env != null && !env.isBlank() ? env : DEFAULT_CONFIG;
  }

  /**
   * The configuration: the file (required if named explicitly, optional if it is the default and
   * missing), overlaid by the environment variables Hoist knows.
   */
  public static Future<JsonObject> loadConfig(Vertx vertx, String file) {
    ConfigRetrieverOptions options = new ConfigRetrieverOptions().setScanPeriod(0);
    boolean exists = Files.isRegularFile(Paths.get(file));
    if (!exists && !DEFAULT_CONFIG.equals(file)) {
      return Future.failedFuture("configuration file " + Paths.get(file).toAbsolutePath() + " does not exist");
    }
    if (exists) {
      options.addStore(new ConfigStoreOptions().setType("file").setFormat("json")
          .setConfig(new JsonObject().put("path", file)));
    }
    options.addStore(new ConfigStoreOptions().setType("env")
        .setConfig(new JsonObject().put("keys", new JsonArray(HoistConfig.allEnvKeys()))));
    ConfigRetriever retriever = ConfigRetriever.create(vertx, options);
    return retriever.getConfig().andThen(ar -> retriever.close());
  }

  /**
   * Deploys load, gateway, download and registry into {@code vertx}. The download stage learns
   * where this node's mirror is once the gateway has bound its port.
   */
  public static Future<Deployment> deploy(Vertx vertx, JsonObject config) {
    HoistConfig settings;
    try {
      settings = new HoistConfig(config).validate();
      Files.createDirectories(settings.dataDir());
    } catch (Exception e) {
      return Future.failedFuture(e);
    }
    List<String> ids = new ArrayList<>();
    GatewayVerticle gateway = new GatewayVerticle();
    DeploymentOptions options = new DeploymentOptions().setConfig(config);
    // Stages first and the registry last: when it resumes interrupted operations, they are there.
    return vertx.deployVerticle(new LoadVerticle(), options).andThen(ar -> addId(ids, ar.result()))
        .compose(id -> vertx.deployVerticle(gateway, options)).andThen(ar -> addId(ids, ar.result()))
        .compose(id -> {
          JsonObject downloadConfig = config.copy();
          if (settings.mirrorEndpoint() == null && settings.mirrorEnabled()) {
            downloadConfig.put(HoistConfig.MIRROR_ENDPOINT,
                "http://" + displayHost(settings.httpHost()) + ":" + gateway.actualPort() + "/hub");
          }
          return vertx.deployVerticle(new DownloadVerticle(), new DeploymentOptions().setConfig(downloadConfig));
        }).andThen(ar -> addId(ids, ar.result()))
        .compose(id -> vertx.deployVerticle(new RegistryVerticle(), options)).andThen(ar -> addId(ids, ar.result()))
        .map(id -> new Deployment(vertx, ids, gateway.actualPort()))
        .recover(err -> {
          // A half-started Hoist would answer some requests and not others: take it all down.
          Deployment partial = new Deployment(vertx, ids, -1);
          return partial.undeploy().transform(v -> Future.failedFuture(err));
        });
  }

  private static void addId(List<String> ids, String id) {
    if (id != null) {
      ids.add(id);
    }
  }

  /** A wildcard bind address is reached through loopback. */
  static String displayHost(String host) {
    return "0.0.0.0".equals(host) || "::".equals(host) || "[::]".equals(host) ? "127.0.0.1"
        : host.contains(":") && !host.startsWith("[") ? "[" + host + "]" : host;
  }
}
