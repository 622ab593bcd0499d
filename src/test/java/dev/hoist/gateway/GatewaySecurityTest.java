package dev.hoist.gateway;

import static dev.hoist.support.TestSupport.await;
import static dev.hoist.support.TestSupport.waitUntil;
import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import dev.hoist.Hoist;
import dev.hoist.HoistConfig;
import dev.hoist.support.TestSupport;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.http.WebSocket;
import io.vertx.core.http.WebSocketConnectOptions;
import io.vertx.core.json.JsonObject;
import io.vertx.core.net.NetSocket;
import io.vertx.ext.web.client.HttpResponse;
import io.vertx.ext.web.client.WebClient;
import io.vertx.ext.web.client.WebClientOptions;
import io.vertx.junit5.VertxExtension;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;

/** The gateway under hostile or careless input: tokens, origins, limits, headers, TLS. */
@ExtendWith(VertxExtension.class)
class GatewaySecurityTest {

  private static final String TOKEN = "s3cret-api-token-0123456789";

  @TempDir
  Path dataDir;
  private Vertx vertx;
  private WebClient http;

  @BeforeEach
  void setUp() {
    vertx = Vertx.vertx();
    http = WebClient.create(vertx);
  }

  @AfterEach
  void tearDown() {
    await(vertx.close());
  }

  private Hoist.Deployment start(JsonObject extra) throws Exception {
    return await(Hoist.deploy(vertx, TestSupport.config(dataDir).mergeIn(extra)));
  }

  private HttpResponse<Buffer> postLoad(int port, JsonObject body, String token) {
    var request = http.post(port, "127.0.0.1", "/api/llm/load");
    if (token != null) {
      request.putHeader("Authorization", "Bearer " + token);
    }
    return await(request.sendJsonObject(body));
  }

  private static String code(HttpResponse<Buffer> response) {
    return response.bodyAsJsonObject().getJsonObject("error").getString("code");
  }

  @Test
  void aTokenGuardsMutationsAndOptionallyReads() throws Exception {
    int port = start(new JsonObject().put(HoistConfig.API_TOKEN, TOKEN)).httpPort();
    JsonObject body = new JsonObject().put("model_name", "demo-tiny");
    HttpResponse<Buffer> none = postLoad(port, body, null);
    assertThat(none.statusCode()).isEqualTo(401);
    assertThat(none.getHeader("WWW-Authenticate")).startsWith("Bearer");
    assertThat(code(none)).isEqualTo("unauthorized");
    assertThat(none.bodyAsString()).doesNotContain(TOKEN);
    assertThat(postLoad(port, body, "wrong").statusCode()).isEqualTo(401);
    assertThat(await(http.get(port, "127.0.0.1", "/api/llm/progress").send()).bodyAsJsonObject().getJsonArray("operations")).isEmpty();
    assertThat(postLoad(port, body, TOKEN).statusCode()).isEqualTo(202);
    // Reads are open unless protect_reads says otherwise.
    assertThat(await(http.get(port, "127.0.0.1", "/api/llm/progress").send()).statusCode()).isEqualTo(200);
    assertThat(await(http.delete(port, "127.0.0.1", "/api/llm/progress/x").send()).statusCode()).isEqualTo(401);
  }

  @Test
  void protectedReadsNeedTheTokenOnRestAndTheWebSocket() throws Exception {
    int port = start(new JsonObject().put(HoistConfig.API_TOKEN, TOKEN).put(HoistConfig.PROTECT_READS, true)).httpPort();
    assertThat(await(http.get(port, "127.0.0.1", "/api/llm/progress").send()).statusCode()).isEqualTo(401);
    assertThat(await(http.get(port, "127.0.0.1", "/api/llm/progress").putHeader("Authorization", "Bearer " + TOKEN).send())
        .statusCode()).isEqualTo(200);
    assertThat(await(http.get(port, "127.0.0.1", "/metrics").send()).statusCode()).isEqualTo(401);
    // The dashboard page itself carries no data and stays reachable.
    assertThat(await(http.get(port, "127.0.0.1", "/").send()).statusCode()).isEqualTo(200);

    var client = TestSupport.webSockets(vertx);
    Throwable refused = client.connect(port, "127.0.0.1", "/api/llm/ws").toCompletionStage().toCompletableFuture()
        .handle((ws, err) -> err).get();
    assertThat(refused).isNotNull().hasMessageContaining("401");
    WebSocket ws = await(client.connect(port, "127.0.0.1", "/api/llm/ws?access_token=" + TOKEN));
    assertThat(ws.isClosed()).isFalse();
    WebSocket withHeader = await(client.connect(new WebSocketConnectOptions().setPort(port).setHost("127.0.0.1")
        .setURI("/api/llm/ws").addHeader("Authorization", "Bearer " + TOKEN)));
    assertThat(withHeader.isClosed()).isFalse();
  }

  @Test
  void bindingBeyondLoopbackWithoutATokenRefusesToStart() throws Exception {
    Throwable failure = Hoist.deploy(vertx, TestSupport.config(dataDir).put(HoistConfig.HTTP_HOST, "0.0.0.0"))
        .toCompletionStage().toCompletableFuture().handle((d, err) -> err).get();
    assertThat(failure).isNotNull();
    assertThat(failure.getMessage()).contains("0.0.0.0").contains("HOIST_API_TOKEN").contains("HOIST_ALLOW_INSECURE");
    // With an explicit opt-in it starts.
    Hoist.Deployment d = await(Hoist.deploy(vertx, TestSupport.config(dataDir.resolve("b")).put(HoistConfig.HTTP_HOST, "0.0.0.0")
        .put(HoistConfig.ALLOW_INSECURE, true)));
    assertThat(await(http.get(d.httpPort(), "127.0.0.1", "/health").send()).statusCode()).isEqualTo(200);
  }

  @Test
  void aWebSocketFromAnotherOriginIsRefused() throws Exception {
    int port = start(new JsonObject().put(HoistConfig.ALLOWED_ORIGINS, "https://dash.example.org")).httpPort();
    var client = TestSupport.webSockets(vertx);
    Throwable evil = client.connect(new WebSocketConnectOptions().setPort(port).setHost("127.0.0.1").setURI("/api/llm/ws")
        .addHeader("Origin", "http://evil.example")).toCompletionStage().toCompletableFuture().handle((ws, err) -> err).get();
    assertThat(evil).isNotNull().hasMessageContaining("403");
    await(client.connect(new WebSocketConnectOptions().setPort(port).setHost("127.0.0.1").setURI("/api/llm/ws")
        .addHeader("Origin", "http://127.0.0.1:" + port)));
    await(client.connect(new WebSocketConnectOptions().setPort(port).setHost("127.0.0.1").setURI("/api/llm/ws")
        .addHeader("Origin", "https://dash.example.org")));
    Throwable wrongPath = client.connect(port, "127.0.0.1", "/api/llm/other").toCompletionStage().toCompletableFuture()
        .handle((ws, err) -> err).get();
    assertThat(wrongPath).isNotNull().hasMessageContaining("404");
  }

  @Test
  void webSocketLimitsHoldAndTheConnectionSurvivesGarbage() throws Exception {
    int port = start(new JsonObject().put(HoistConfig.WS_MAX_SUBSCRIPTIONS, 2).put(HoistConfig.WS_MAX_MESSAGE_BYTES, 1024)).httpPort();
    List<JsonObject> received = new CopyOnWriteArrayList<>();
    WebSocket ws = await(TestSupport.webSockets(vertx).connect(port, "127.0.0.1", "/api/llm/ws"));
    ws.textMessageHandler(t -> received.add(new JsonObject(t)));
    ws.writeBinaryMessage(Buffer.buffer(new byte[] {0, 1, 2, (byte) 0xff}));
    ws.writeTextMessage("\u0000\uffff{{{");
    ws.writeTextMessage(new JsonObject().put("type", "subscribe").put("operation_id", "x".repeat(500)).encode());
    ws.writeTextMessage(new JsonObject().put("type", "subscribe").put("operation_id", "a").encode());
    ws.writeTextMessage(new JsonObject().put("type", "subscribe").put("operation_id", "b").encode());
    ws.writeTextMessage(new JsonObject().put("type", "subscribe").put("operation_id", "c").encode());
    waitUntil(Duration.ofSeconds(5), () -> received.stream().anyMatch(m -> m.encode().contains("too many subscriptions")));
    assertThat(received.stream().filter(m -> "error".equals(m.getString("type"))).count()).isGreaterThanOrEqualTo(4);
    assertThat(ws.isClosed()).isFalse();

    // A message over the limit closes the connection with 1009 (message too big).
    AtomicInteger closeCode = new AtomicInteger();
    ws.closeHandler(v -> closeCode.set(ws.closeStatusCode() == null ? -1 : ws.closeStatusCode()));
    ws.writeTextMessage("{\"type\":\"subscribe\",\"operation_id\":\"" + "y".repeat(4000) + "\"}");
    waitUntil(Duration.ofSeconds(5), () -> closeCode.get() != 0);
    assertThat(closeCode.get()).isEqualTo(1009);
    // Everyone else is unaffected.
    assertThat(await(http.get(port, "127.0.0.1", "/health").send()).statusCode()).isEqualTo(200);
  }

  @Test
  void aSilentWebSocketPeerIsClosedAfterTheIdleTimeout() throws Exception {
    int port = start(new JsonObject().put(HoistConfig.WS_IDLE_SECONDS, 3)).httpPort();
    RawWebSocket peer = rawWebSocket(port); // never answers a ping
    long start = System.nanoTime();
    waitUntil(Duration.ofSeconds(10), peer.closed::get);
    assertThat((System.nanoTime() - start) / 1_000_000).isBetween(1_500L, 8_000L);
  }

  @Test
  void eachConnectionIsPingedWhenItIsDueNotInASweepsBurst() throws Exception {
    // Pings every 4 s (a third of the idle time). Two connections opened 400 ms apart must get their
    // first pings about 400 ms apart: pings that wait for a sweep once a second arrive together or a
    // second apart, and with thousands of connections that is a burst.
    int port = start(new JsonObject().put(HoistConfig.WS_IDLE_SECONDS, 12)).httpPort();
    RawWebSocket first = rawWebSocket(port);
    Thread.sleep(400);
    RawWebSocket second = rawWebSocket(port);
    long opened = second.openedNanos - first.openedNanos;
    waitUntil(Duration.ofSeconds(8), () -> first.firstPingNanos.get() != 0 && second.firstPingNanos.get() != 0);
    long apart = second.firstPingNanos.get() - first.firstPingNanos.get();
    assertThat((apart - opened) / 1_000_000).as("pings %d ms apart, connections opened %d ms apart",
        apart / 1_000_000, opened / 1_000_000).isBetween(-150L, 150L);
    assertThat((first.firstPingNanos.get() - first.openedNanos) / 1_000_000).isBetween(3_800L, 4_500L);
  }

  /** A WebSocket client on a raw TCP socket: it completes the handshake and then only listens. */
  private static final class RawWebSocket {
    final StringBuilder seen = new StringBuilder();
    final AtomicBoolean closed = new AtomicBoolean();
    final java.util.concurrent.atomic.AtomicLong firstPingNanos = new java.util.concurrent.atomic.AtomicLong();
    long openedNanos;
  }

  private RawWebSocket rawWebSocket(int port) throws Exception {
    RawWebSocket peer = new RawWebSocket();
    NetSocket socket = await(vertx.createNetClient().connect(port, "127.0.0.1"));
    socket.handler(b -> {
      synchronized (peer.seen) {
        peer.seen.append(b.toString(java.nio.charset.StandardCharsets.ISO_8859_1));
        // Hoist's ping: an unmasked ping frame (0x89) with the 5 bytes "hoist".
        if (peer.seen.indexOf("\u0089\u0005hoist") >= 0) {
          peer.firstPingNanos.compareAndSet(0, System.nanoTime());
        }
      }
    });
    socket.closeHandler(v -> peer.closed.set(true));
    socket.write("GET /api/llm/ws HTTP/1.1\r\nHost: 127.0.0.1:" + port + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n");
    waitUntil(Duration.ofSeconds(5), () -> {
      synchronized (peer.seen) {
        return peer.seen.indexOf("101 Switching Protocols") >= 0;
      }
    });
    peer.openedNanos = System.nanoTime();
    return peer;
  }

  @Test
  void httpLimitsGiveClearErrorsAndCreateNothing() throws Exception {
    int port = start(new JsonObject().put(HoistConfig.LOAD_RATE_PER_MINUTE, 6)).httpPort();
    HttpResponse<Buffer> big = await(http.post(port, "127.0.0.1", "/api/llm/load").putHeader("Content-Type", "application/json")
        .sendBuffer(Buffer.buffer("{\"model_name\":\"" + "a".repeat(70_000) + "\"}")));
    assertThat(big.statusCode()).isEqualTo(413);
    assertThat(code(big)).isEqualTo("payload_too_large");
    HttpResponse<Buffer> form = await(http.post(port, "127.0.0.1", "/api/llm/load").putHeader("Content-Type", "text/plain")
        .sendBuffer(Buffer.buffer("model_name=demo-tiny")));
    assertThat(form.statusCode()).isEqualTo(415);
    HttpResponse<Buffer> longName = postLoad(port, new JsonObject().put("model_name", "x".repeat(10_000)), null);
    assertThat(longName.statusCode()).isEqualTo(400);
    assertThat(longName.bodyAsString().length()).isLessThan(1_000);
    HttpResponse<Buffer> wrongType = postLoad(port, new JsonObject().put("model_name", "demo-tiny").put("priority", "high"), null);
    assertThat(wrongType.statusCode()).isEqualTo(400);
    assertThat(wrongType.bodyAsJsonObject().getJsonObject("error").getString("message")).startsWith("priority");
    // Rate limit: 6 a minute per client, then 429 with Retry-After.
    int limited = 0;
    String retryAfter = null;
    for (int i = 0; i < 5; i++) {
      HttpResponse<Buffer> r = postLoad(port, new JsonObject().put("model_name", "../../etc/passwd"), null);
      if (r.statusCode() == 429) {
        limited++;
        retryAfter = r.getHeader("Retry-After");
      } else {
        assertThat(r.statusCode()).isEqualTo(400);
      }
    }
    assertThat(limited).isGreaterThanOrEqualTo(1);
    assertThat(Long.parseLong(retryAfter)).isPositive();
    assertThat(await(http.get(port, "127.0.0.1", "/api/llm/progress").send()).bodyAsJsonObject().getJsonArray("operations")).isEmpty();
    // Nothing was created outside the data dir, and nothing inside it named like the input.
    try (Stream<Path> files = Files.walk(dataDir)) {
      assertThat(files.map(Path::toString)).noneMatch(p -> p.contains("passwd") || p.contains("xxxxxxxx"));
    }
  }

  @Test
  void theDashboardIsServedWithSecurityHeaders() throws Exception {
    int port = start(new JsonObject()).httpPort();
    HttpResponse<Buffer> page = await(http.get(port, "127.0.0.1", "/").send());
    assertThat(page.getHeader("Content-Security-Policy")).contains("default-src 'self'").contains("frame-ancestors 'none'");
    assertThat(page.getHeader("X-Content-Type-Options")).isEqualTo("nosniff");
    assertThat(page.getHeader("X-Frame-Options")).isEqualTo("DENY");
  }

  @Test
  void tlsWithASelfSignedCertificateServesHttpsOnOpenSsl() throws Exception {
    int port = start(new JsonObject().put(HoistConfig.TLS_SELF_SIGNED, true)).httpPort();
    assertThat(Tls.openSslAvailable()).as("netty-tcnative BoringSSL loads on this platform").isTrue();
    WebClient https = WebClient.create(vertx, new WebClientOptions().setSsl(true).setTrustAll(true).setVerifyHost(false));
    assertThat(await(https.get(port, "127.0.0.1", "/health").send()).statusCode()).isEqualTo(200);
    WebSocket wss = await(vertx.createWebSocketClient(new io.vertx.core.http.WebSocketClientOptions().setSsl(true)
        .setTrustAll(true).setVerifyHost(false)).connect(port, "127.0.0.1", "/api/llm/ws"));
    assertThat(wss.isSsl()).isTrue();
    // Plain HTTP to the TLS port does not get an answer from the API.
    Throwable plain = WebClient.create(vertx, new WebClientOptions()).get(port, "127.0.0.1", "/health").send()
        .toCompletionStage().toCompletableFuture().handle((r, err) -> err != null ? err : (r.statusCode() == 200 ? null : new Exception("refused")))
        .get();
    assertThat(plain).isNotNull();
  }

  @Test
  void tokensNeverAppearInLogsOrOperations() throws Exception {
    Logger root = (Logger) LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME);
    ListAppender<ILoggingEvent> captured = new ListAppender<>();
    captured.start();
    root.addAppender(captured);
    ch.qos.logback.classic.Level before = root.getLevel();
    root.setLevel(ch.qos.logback.classic.Level.DEBUG);
    try {
      String hfToken = "hf_TESTTOKEN_abcdefghijklmnop";
      int port = start(new JsonObject().put(HoistConfig.API_TOKEN, TOKEN).put(HoistConfig.HF_TOKEN, hfToken)).httpPort();
      String id = postLoad(port, new JsonObject().put("model_name", "someone/gated-model"), TOKEN).bodyAsJsonObject().getString("operation_id");
      waitUntil(Duration.ofSeconds(30), () -> await(http.get(port, "127.0.0.1", "/api/llm/progress/" + id).send())
          .bodyAsJsonObject().getString("status").equals("error"));
      String op = await(http.get(port, "127.0.0.1", "/api/llm/progress/" + id).send()).bodyAsString();
      assertThat(op).doesNotContain(hfToken).doesNotContain(TOKEN);
      postLoad(port, new JsonObject().put("model_name", "demo-tiny"), "wrong-" + TOKEN);
      String metrics = await(http.get(port, "127.0.0.1", "/metrics").send()).bodyAsString();
      assertThat(metrics).doesNotContain(hfToken).doesNotContain(TOKEN);
      String logs = captured.list.stream().map(e -> e.getFormattedMessage() + " " + (e.getThrowableProxy() == null ? "" : e.getThrowableProxy().getMessage()))
          .reduce("", String::concat);
      assertThat(logs).isNotEmpty().doesNotContain(hfToken).doesNotContain(TOKEN);
    } finally {
      root.detachAppender(captured);
      root.setLevel(before);
    }
  }
}
