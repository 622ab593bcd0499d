package dev.hoist.embed;

import static dev.hoist.support.TestSupport.await;
import static org.assertj.core.api.Assertions.assertThat;

import dev.hoist.HoistConfig;
import dev.hoist.contract.EventBusContract;
import dev.hoist.support.TestSupport;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.client.WebClient;
import java.nio.file.Path;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Deploying subsets of Hoist's verticles into a host's Vert.x. */
class HoistModulesTest {

  @TempDir
  Path dataDir;
  private Vertx vertx;

  @BeforeEach
  void start() {
    vertx = Vertx.vertx();
  }

  @AfterEach
  void stop() {
    await(vertx.close());
  }

  @Test
  void allDeploysTheFourVerticlesAndUndeployRemovesThem() throws Exception {
    EmbeddedHoist hoist = await(HoistModules.builder(TestSupport.config(dataDir)).all().deploy(vertx));
    assertThat(hoist.modules()).containsExactlyInAnyOrder(HoistModules.Module.values());
    assertThat(hoist.deploymentIds()).hasSize(4);
    assertThat(hoist.httpPort()).isPositive();
    assertThat(await(WebClient.create(vertx).get(hoist.httpPort(), "127.0.0.1", "/health").send()).statusCode()).isEqualTo(200);

    await(hoist.undeploy());
    assertThat(vertx.deploymentIDs()).isEmpty();
  }

  @Test
  void aSubsetAnswersOnlyForItsOwnVerticles() throws Exception {
    EmbeddedHoist stages = await(HoistModules.builder(TestSupport.config(dataDir)).download().load().deploy(vertx));
    assertThat(stages.deploymentIds()).hasSize(2);
    assertThat(stages.httpPort()).isEqualTo(-1);
    assertThat(ping(EventBusContract.VERTICLE_DOWNLOAD).succeeded()).isTrue();
    assertThat(ping(EventBusContract.VERTICLE_LOAD).succeeded()).isTrue();
    assertThat(ping(EventBusContract.VERTICLE_REGISTRY).failed()).isTrue();
    assertThat(ping(EventBusContract.VERTICLE_GATEWAY).failed()).isTrue();
  }

  @Test
  void nothingChosenOrAnInvalidConfigFailsAndDeploysNothing() throws Exception {
    assertThat(failure(HoistModules.builder(TestSupport.config(dataDir)).deploy(vertx))).contains("choose at least one module");
    JsonObject invalid = TestSupport.config(dataDir).put(HoistConfig.HTTP_PORT, 70_000);
    assertThat(failure(HoistModules.builder(invalid).registry().deploy(vertx))).contains(HoistConfig.HTTP_PORT);
    assertThat(vertx.deploymentIDs()).isEmpty();
  }

  @Test
  void aVerticleThatCannotStartTakesDownTheOnesBeforeIt() throws Exception {
    // The port is taken: the gateway fails after the load stage has started.
    io.vertx.core.http.HttpServer squatter = await(vertx.createHttpServer().requestHandler(r -> r.response().end()).listen(0, "127.0.0.1"));
    JsonObject config = TestSupport.config(dataDir).put(HoistConfig.HTTP_PORT, squatter.actualPort());
    assertThat(failure(HoistModules.builder(config).all().deploy(vertx))).isNotEmpty();
    assertThat(vertx.deploymentIDs()).isEmpty();
  }

  private Future<?> ping(String verticle) {
    Future<?> reply = vertx.eventBus().request(EventBusContract.PING_PREFIX + verticle, new JsonObject());
    try {
      reply.toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
    } catch (Exception e) {
      // inspected by the caller
    }
    return reply;
  }

  private static String failure(Future<?> future) throws Exception {
    try {
      future.toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
    } catch (ExecutionException e) {
      return String.valueOf(e.getCause().getMessage());
    }
    throw new AssertionError("expected the deployment to fail");
  }
}
