package dev.hoist.embed;

import static dev.hoist.support.TestSupport.await;
import static dev.hoist.support.TestSupport.waitUntil;
import static org.assertj.core.api.Assertions.assertThat;

import dev.hoist.HoistConfig;
import dev.hoist.gateway.GatewayRoutes;
import dev.hoist.mirror.HubMirror;
import dev.hoist.support.TestSupport;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.WebSocket;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.client.HttpResponse;
import io.vertx.ext.web.client.WebClient;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Hoist's REST routes mounted on a host application's own Router under a prefix, with no gateway
 * verticle and no server of Hoist's own.
 */
class MountedRoutesTest {

  @TempDir
  Path dataDir;

  @Test
  void hoistsRestApiAnswersUnderAPrefixBesideTheHostsOwnRoutes() throws Exception {
    Vertx vertx = Vertx.vertx();
    try {
      Router host = Router.router(vertx);
      host.get("/hello").handler(ctx -> ctx.response().end("host"));
      host.route("/hub/*").subRouter(new HubMirror(vertx, TestSupport.sharedMirror()).router());
      HttpServer server = await(vertx.createHttpServer().requestHandler(host).listen(0, "127.0.0.1"));
      JsonObject config = TestSupport.config(dataDir)
          .put(HoistConfig.MIRROR_ENDPOINT, "http://127.0.0.1:" + server.actualPort() + "/hub");
      await(HoistModules.builder(config).registry().download().load().deploy(vertx));
      host.route("/hoist/*").subRouter(GatewayRoutes.router(vertx, config));
      WebClient http = WebClient.create(vertx);
      int port = server.actualPort();

      HttpResponse<Buffer> started = await(http.post(port, "127.0.0.1", "/hoist/api/llm/load")
          .sendJsonObject(new JsonObject().put("model_name", "demo-tiny")));
      assertThat(started.statusCode()).isEqualTo(202);
      String id = started.bodyAsJsonObject().getString("operation_id");
      waitUntil(Duration.ofSeconds(60), () -> "completed".equals(await(http.get(port, "127.0.0.1", "/hoist/api/llm/progress/" + id)
          .send()).bodyAsJsonObject().getString("status")));

      HttpResponse<Buffer> missing = await(http.get(port, "127.0.0.1", "/hoist/api/llm/nothing-here").send());
      assertThat(missing.statusCode()).isEqualTo(404);
      assertThat(missing.bodyAsJsonObject().getJsonObject("error").getString("code")).isEqualTo("not_found");
      assertThat(await(http.get(port, "127.0.0.1", "/hoist/api/llm/models").send()).statusCode()).isEqualTo(200);
      assertThat(await(http.get(port, "127.0.0.1", "/hello").send()).bodyAsString()).isEqualTo("host");

      // The WebSocket comes along, under the same prefix.
      List<JsonObject> frames = new CopyOnWriteArrayList<>();
      WebSocket ws = await(TestSupport.webSockets(vertx).connect(port, "127.0.0.1", "/hoist/api/llm/ws"));
      ws.textMessageHandler(text -> frames.add(new JsonObject(text)));
      ws.writeTextMessage(new JsonObject().put("type", "subscribe").put("operation_id", id).encode());
      waitUntil(Duration.ofSeconds(10), () -> frames.stream().anyMatch(f -> "snapshot".equals(f.getString("type"))
          && "completed".equals(f.getString("status"))));
      ws.close();
    } finally {
      await(vertx.close());
    }
  }
}
