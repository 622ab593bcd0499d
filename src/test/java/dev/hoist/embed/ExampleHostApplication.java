package dev.hoist.embed;

import dev.hoist.HoistConfig;
import dev.hoist.client.HoistClient;
import dev.hoist.client.Operation;
import dev.hoist.mirror.HubMirror;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpServer;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.Router;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.function.Consumer;

/**
 * An application that embeds Hoist: it has its own HTTP server and routes, deploys Hoist's
 * registry, download and load stages — not the gateway — into its own Vert.x, and drives them with
 * the typed {@link HoistClient} over the event bus. docs/embedding.md walks through it.
 *
 * <p>Hoist's demo models normally come from the gateway's embedded hub mirror; without a gateway,
 * this application serves the mirror on its own server under {@code /hub} and points
 * {@code HOIST_MIRROR_ENDPOINT} at it.
 *
 * <pre>mvn -q test-compile exec:java -Dexec.mainClass=dev.hoist.embed.ExampleHostApplication -Dexec.classpathScope=test</pre>
 */
public final class ExampleHostApplication {

  private final HttpServer server;
  private final EmbeddedHoist hoist;
  private final HoistClient client;

  private ExampleHostApplication(HttpServer server, EmbeddedHoist hoist, HoistClient client) {
    this.server = server;
    this.hoist = hoist;
    this.client = client;
  }

  /** Starts the host's server (its own route and the hub mirror), then Hoist's stages and registry. */
  public static Future<ExampleHostApplication> start(Vertx vertx, JsonObject hoistConfig, Path mirrorDir) {
    HubMirror mirror = new HubMirror(vertx, mirrorDir);
    Router router = Router.router(vertx);
    router.get("/hello").handler(ctx -> ctx.response().end("the host application's own route"));
    router.route("/hub/*").subRouter(mirror.router());
    return mirror.prepare(true)
        .compose(v -> vertx.createHttpServer().requestHandler(router).listen(0, "127.0.0.1"))
        .compose(server -> {
          JsonObject config = hoistConfig.copy()
              .put(HoistConfig.MIRROR_ENDPOINT, "http://127.0.0.1:" + server.actualPort() + "/hub");
          return HoistModules.builder(config).registry().download().load().deploy(vertx)
              .map(hoist -> new ExampleHostApplication(server, hoist, HoistClient.create(vertx)));
        });
  }

  public int port() {
    return server.actualPort();
  }

  public EmbeddedHoist hoist() {
    return hoist;
  }

  /** Loads a model and hands every state to {@code onUpdate}; completes with the final state. */
  public Future<Operation> load(String model, Consumer<Operation> onUpdate) {
    return client.load(model).compose(started -> {
      Promise<Operation> finished = Promise.promise();
      Operation[] last = new Operation[1];
      client.updates(started.id())
          .exceptionHandler(finished::tryFail)
          .endHandler(v -> finished.tryComplete(last[0]))
          .handler(op -> {
            last[0] = op;
            onUpdate.accept(op);
          });
      return finished.future();
    });
  }

  public Future<Void> stop() {
    return hoist.undeploy().compose(v -> server.close());
  }

  /**
   * Loads demo-tiny (or the model named by the first argument) and exits. Its state goes to
   * ./data/example-host; the demo models are the ones {@code java -jar hoist.jar} keeps in
   * ./data/mirror (generated there on the first run, ~340 MiB).
   */
  public static void main(String[] args) throws Exception {
    Path data = Paths.get("data", "example-host").toAbsolutePath();
    Files.createDirectories(data);
    JsonObject config = new JsonObject()
        .put(HoistConfig.DATA_DIR, data.toString())
        .put(HoistConfig.HF_ENDPOINT, "http://127.0.0.1:9/no-internet-needed");
    Vertx vertx = Vertx.vertx();
    try {
      Operation done = start(vertx, config, Paths.get("data", "mirror").toAbsolutePath())
          .compose(app -> {
            System.out.println("Host application on http://127.0.0.1:" + app.port() + "/hello, Hoist modules " + app.hoist().modules());
            return app.load(args.length > 0 ? args[0] : "demo-tiny",
                op -> System.out.printf("%-12s %3d%% %s%n", op.status().wireName(), op.progress(), op.message()));
          })
          .toCompletionStage().toCompletableFuture().get();
      System.out.println("Finished: " + done.status().wireName() + " - " + done.message());
    } finally {
      vertx.close().toCompletionStage().toCompletableFuture().get();
    }
  }
}
