package dev.hoist.gateway;

import static dev.hoist.support.TestSupport.await;
import static dev.hoist.support.TestSupport.waitUntil;
import static org.assertj.core.api.Assertions.assertThat;

import dev.hoist.Hoist;
import dev.hoist.HoistConfig;
import dev.hoist.support.TestSupport;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.WebSocket;
import io.vertx.core.json.JsonObject;
import io.vertx.core.net.NetClient;
import io.vertx.core.net.NetSocket;
import io.vertx.ext.web.client.HttpResponse;
import io.vertx.ext.web.client.WebClient;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.stream.Stream;
import java.util.zip.Deflater;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Hostile input at the gateway — malformed and oversized JSON, wrong types, odd Unicode,
 * path-traversal names (plain and percent-encoded), 10,000-character ids, invalid operation ids,
 * WebSocket garbage, binary, oversized, deflate-compressed (bomb) and otherwise broken frames —
 * while a healthy load runs: each input gets its exact status or close, nothing is created in or
 * outside the data dir but the healthy model's cache, and the healthy load completes with the
 * mirror's bytes.
 */
class HostileInputTest {

  private static final Path DEMO_TINY = Paths.get("target", "test-mirror", "hoist", "demo-tiny").toAbsolutePath();

  @TempDir
  Path root;
  private Path dataDir;
  private Vertx vertx;
  private WebClient http;
  private int port;

  @BeforeEach
  void setUp() throws Exception {
    dataDir = root.resolve("data");
    vertx = Vertx.vertx();
    http = WebClient.create(vertx);
    port = await(Hoist.deploy(vertx, TestSupport.config(dataDir).put(HoistConfig.LOAD_RATE_PER_MINUTE, 10_000)
        .put(HoistConfig.WS_MAX_MESSAGE_BYTES, 1024))).httpPort();
  }

  @AfterEach
  void tearDown() {
    await(vertx.close());
  }

  private static Set<String> files(Path dir) throws Exception {
    try (Stream<Path> all = Files.walk(dir)) {
      return new TreeSet<>(all.map(p -> dir.relativize(p).toString().replace('\\', '/')).toList());
    }
  }

  private String startHealthyLoad() {
    HttpResponse<Buffer> r = await(http.post(port, "127.0.0.1", "/api/llm/load").sendJsonObject(new JsonObject().put("model_name", "demo-tiny")));
    assertThat(r.statusCode()).as(r.bodyAsString()).isEqualTo(202);
    return r.bodyAsJsonObject().getString("operation_id");
  }

  /** The healthy load completed, and every file it cached is the mirror's, byte for byte. */
  private void assertHealthyLoadCompleted(String id) throws Exception {
    JsonObject[] op = new JsonObject[1];
    waitUntil(Duration.ofSeconds(45), () -> {
      op[0] = await(http.get(port, "127.0.0.1", "/api/llm/progress/" + id).send()).bodyAsJsonObject();
      return op[0].getString("status").matches("completed|error|cancelled");
    });
    assertThat(op[0].getString("status")).as("the healthy load beside the hostile input: %s", op[0].encode()).isEqualTo("completed");
    Path snapshots = dataDir.resolve("hub/models--hoist--demo-tiny/snapshots");
    List<Path> cached;
    try (Stream<Path> s = Files.walk(snapshots)) {
      cached = s.filter(Files::isRegularFile).toList();
    }
    assertThat(cached.stream().map(p -> p.getFileName().toString())).contains("model.safetensors", "config.json");
    for (Path f : cached) {
      assertThat(Files.readAllBytes(f)).as("%s", f.getFileName()).isEqualTo(Files.readAllBytes(DEMO_TINY.resolve(f.getFileName().toString())));
    }
  }

  /** What appeared in the data dir is the database's and the healthy model's; nothing appeared beside it. */
  private void assertOnlyTheHealthyModelWasCreated(Set<String> before) throws Exception {
    assertThat(files(root)).as("nothing outside the data dir").allMatch(p -> p.isEmpty() || p.equals("data") || p.startsWith("data/"));
    Set<String> added = new TreeSet<>(files(dataDir));
    added.removeAll(before);
    assertThat(added).allMatch(p -> p.startsWith("hoist.db") || p.equals("hub") || p.startsWith("hub/models--hoist--demo-tiny")
        || p.startsWith("hub/.locks"), "the database or the healthy model's cache");
    assertThat(files(dataDir)).noneMatch(p -> p.contains("passwd") || p.contains("etc") || p.contains("..") || p.contains("%")
        || p.contains("evil") || p.contains("xxxxxxxx"));
  }

  // ------------------------------------------------------------------ HTTP

  private record Case(String what, HttpMethod method, String path, String body, int status, String code, String message) {
  }

  private static Case load(String what, String body, int status, String code, String message) {
    return new Case(what, HttpMethod.POST, "/api/llm/load", body, status, code, message);
  }

  private static String named(String modelName) {
    return new JsonObject().put("model_name", modelName).encode();
  }

  @Test
  void hostileHttpInputGetsExactErrorsAndCreatesNothingWhileAHealthyLoadCompletes() throws Exception {
    Set<String> before = files(dataDir);
    String healthy = startHealthyLoad();
    String repoIdRule = "is not a valid hub repo id: expected owner/name with letters, digits, '-', '_' or '.'";
    List<Case> cases = List.of(
        load("malformed JSON", "{\"model_name\":", 400, "bad_request", "request body is not valid JSON"),
        load("deeply nested JSON", "[".repeat(10_000), 400, "bad_request", "request body must be a JSON object"),
        load("a JSON array", "[1,2]", 400, "bad_request", "request body must be a JSON object like {\"model_name\": \"demo-tiny\"}"),
        load("oversized JSON", named("a".repeat(70_000)), 413, "payload_too_large", null),
        load("model_name a number", "{\"model_name\":42}", 400, "bad_request", "model_name is required: a catalog alias or a hub repo id owner/name"),
        load("model_name null", "{\"model_name\":null}", 400, "bad_request", "model_name is required"),
        load("priority a string", "{\"model_name\":\"demo-tiny\",\"priority\":\"high\"}", 400, "bad_request", "priority"),
        load("an unknown field", "{\"model_name\":\"demo-tiny\",\"path\":\"/etc\"}", 400, "bad_request", "path is not a known field"),
        load("right-to-left override and emoji", named("\u202Eevil/\uD83D\uDE00"), 400, "invalid_model_name", repoIdRule),
        load("a lone surrogate", "{\"model_name\":\"a\\ud800/b\"}", 400, "invalid_model_name", repoIdRule),
        load("a NUL", named("a\u0000b/c"), 400, "invalid_model_name", repoIdRule),
        load("fullwidth dots", named("\uFF0E\uFF0E/etc"), 400, "invalid_model_name", repoIdRule),
        load("invalid UTF-8", null, 400, "bad_request", "m is not a known field"),
        load("../../etc/passwd", named("../../etc/passwd"), 400, "invalid_model_name", "'../../etc/passwd' " + repoIdRule),
        load("owner/..", named("owner/.."), 400, "invalid_model_name", "'owner/..' " + repoIdRule),
        load("%2e%2e/%2e%2e", named("%2e%2e/%2e%2e"), 400, "invalid_model_name", "'%2e%2e/%2e%2e' " + repoIdRule),
        load("..%2f..%2fetc%2fpasswd", named("..%2f..%2fetc%2fpasswd"), 404, "model_not_found", "Unknown model '..%2f..%2fetc%2fpasswd'"),
        load("a traversing revision", "{\"model_name\":\"demo-tiny\",\"revision\":\"../../x\"}", 400, "bad_request",
            "revision must be a branch, tag or commit name"),
        load("a 10,000-character name", named("x".repeat(10_000)), 400, "invalid_model_name", "model_name is too long (10000 characters, at most 256)"),
        load("a 10,000-character repo id", named("o/" + "x".repeat(10_000)), 400, "invalid_model_name", "model_name is too long (10002 characters, at most 256)"),
        new Case("form data", HttpMethod.POST, "/api/llm/load", "model_name=demo-tiny", 415, null, null),
        new Case("an unknown operation id", HttpMethod.GET, "/api/llm/progress/not-an-id", null, 404, "not_found", "no operation with id 'not-an-id'"),
        new Case("a traversing operation id", HttpMethod.GET, "/api/llm/progress/%2e%2e%2f%2e%2e%2fetc%2fpasswd", null, 404, "not_found",
            "no operation with id '../../etc/passwd'"),
        new Case("a NUL operation id", HttpMethod.GET, "/api/llm/progress/%00", null, 404, "not_found", "no operation with id '\u0000'"),
        new Case("an invalid UTF-8 operation id", HttpMethod.GET, "/api/llm/progress/%ff%fe", null, 404, "not_found", "no operation with id"),
        new Case("deleting an unknown operation", HttpMethod.DELETE, "/api/llm/progress/not-an-id", null, 404, "not_found", "no operation with id 'not-an-id'"),
        new Case("cancelling an unknown operation", HttpMethod.POST, "/api/llm/progress/not-an-id/cancel", null, 404, "not_found", "no operation with id"),
        // Longer than the HTTP request line may be: refused by the HTTP decoder, before any route.
        new Case("a 10,000-character operation id", HttpMethod.GET, "/api/llm/progress/" + "x".repeat(10_000), null, 414, null, null),
        new Case("retrying a 10,000-character operation id", HttpMethod.POST, "/api/llm/progress/" + "y".repeat(10_000) + "/retry", null, 414, null, null),
        new Case("unloading a traversing model", HttpMethod.POST, "/api/llm/models/%2e%2e/unload", null, 404, "not_found", "no such endpoint"));

    List<String> wrong = new ArrayList<>();
    for (Case c : cases) {
      var request = http.requestAbs(c.method, "http://127.0.0.1:" + port + c.path);
      HttpResponse<Buffer> r;
      if (c.body == null && c.what.equals("invalid UTF-8")) {
        r = await(request.putHeader("Content-Type", "application/json")
            .sendBuffer(Buffer.buffer(new byte[] {'{', '"', 'm', '"', ':', '"', (byte) 0xc3, (byte) 0x28, '"', '}'})));
      } else if (c.body != null) {
        r = await(request.putHeader("Content-Type", c.status == 415 ? "application/x-www-form-urlencoded" : "application/json")
            .sendBuffer(Buffer.buffer(c.body)));
      } else {
        r = await(request.send());
      }
      String body = r.bodyAsString();
      boolean ok = r.statusCode() == c.status;
      if (c.code != null) {
        JsonObject error = new JsonObject(body).getJsonObject("error");
        ok &= c.code.equals(error.getString("code"));
        ok &= c.message == null || error.getString("message").contains(c.message);
        ok &= error.getString("message").length() < 400;
      }
      if (!ok) {
        wrong.add(c.what + ": HTTP " + r.statusCode() + " " + (body == null ? "" : body.substring(0, Math.min(300, body.length()))));
      }
    }
    assertThat(wrong).as("inputs whose answer was not the expected one").isEmpty();

    assertHealthyLoadCompleted(healthy);
    assertThat(await(http.get(port, "127.0.0.1", "/api/llm/progress").send()).bodyAsJsonObject().getJsonArray("operations"))
        .as("no operation was created but the healthy one").hasSize(1);
    assertOnlyTheHealthyModelWasCreated(before);
  }

  // ------------------------------------------------------------------ WebSocket

  /** A client frame: masked, as RFC 6455 requires of clients; {@code rsv1} marks it compressed. */
  static Buffer frame(int opcode, boolean fin, boolean rsv1, byte[] payload) {
    Buffer b = Buffer.buffer();
    b.appendByte((byte) ((fin ? 0x80 : 0) | (rsv1 ? 0x40 : 0) | opcode));
    if (payload.length < 126) {
      b.appendByte((byte) (0x80 | payload.length));
    } else if (payload.length < 65536) {
      b.appendByte((byte) (0x80 | 126)).appendShort((short) payload.length);
    } else {
      b.appendByte((byte) (0x80 | 127)).appendLong(payload.length);
    }
    byte[] mask = {0x11, 0x22, 0x33, 0x44};
    b.appendBytes(mask);
    byte[] masked = new byte[payload.length];
    for (int i = 0; i < payload.length; i++) {
      masked[i] = (byte) (payload[i] ^ mask[i % 4]);
    }
    return b.appendBytes(masked);
  }

  /** 10 MiB of zeros, raw-deflated as permessage-deflate would send them: about 10 KiB. */
  static byte[] deflateBomb() {
    Deflater d = new Deflater(Deflater.BEST_COMPRESSION, true);
    d.setInput(new byte[10 << 20]);
    d.finish();
    byte[] out = new byte[1 << 20];
    int n = d.deflate(out);
    d.end();
    return java.util.Arrays.copyOf(out, n);
  }

  /** A raw WebSocket connection: its handshake answer, and the frames the server sent after it. */
  private final class RawSocket implements AutoCloseable {
    final NetClient client = vertx.createNetClient();
    final NetSocket socket;
    final StringBuilder handshake = new StringBuilder();
    final Buffer frames = Buffer.buffer();
    final AtomicBoolean upgraded = new AtomicBoolean();
    final AtomicBoolean closed = new AtomicBoolean();

    RawSocket() throws Exception {
      socket = await(client.connect(port, "127.0.0.1"));
      socket.handler(b -> {
        synchronized (this) {
          if (upgraded.get()) {
            frames.appendBuffer(b);
            return;
          }
          handshake.append(b.toString(StandardCharsets.ISO_8859_1));
          int end = handshake.indexOf("\r\n\r\n");
          if (end >= 0) {
            frames.appendBytes(handshake.substring(end + 4).getBytes(StandardCharsets.ISO_8859_1));
            handshake.setLength(end);
            upgraded.set(true);
          }
        }
      });
      socket.closeHandler(v -> closed.set(true));
      // The client offers compression; the server must not take it up.
      socket.write("GET /api/llm/ws HTTP/1.1\r\nHost: 127.0.0.1:" + port + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
          + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
          + "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n");
      waitUntil(Duration.ofSeconds(10), upgraded::get);
      assertThat(handshake.toString()).startsWith("HTTP/1.1 101").doesNotContainIgnoringCase("Sec-WebSocket-Extensions");
    }

    @Override
    public void close() {
      await(client.close());
    }

    /** The server's frames so far: "text:..." for text, "close:<code>:<reason>" for a close. */
    synchronized List<String> received() {
      List<String> out = new ArrayList<>();
      int pos = 0;
      while (pos + 2 <= frames.length()) {
        int op = frames.getByte(pos) & 0x0f;
        int len = frames.getByte(pos + 1) & 0x7f;
        int header = 2;
        if (len == 126) {
          len = frames.getUnsignedShort(pos + 2);
          header = 4;
        }
        if (pos + header + len > frames.length()) {
          break;
        }
        Buffer payload = frames.slice(pos + header, pos + header + len);
        out.add(op == 8 ? "close:" + (len >= 2 ? payload.getUnsignedShort(0) : "") + ":" + (len > 2 ? payload.getString(2, len) : "")
            : op == 1 ? "text:" + payload.toString(StandardCharsets.UTF_8) : "op" + op);
        pos += header + len;
      }
      return out;
    }
  }

  @Test
  void hostileWebSocketFramesEndOnlyTheirOwnConnectionWhileAHealthyLoadIsFollowedToTheEnd() throws Exception {
    Set<String> before = files(dataDir);
    // A well-behaved client follows everything from the start.
    List<JsonObject> updates = new CopyOnWriteArrayList<>();
    WebSocket follower = await(TestSupport.webSockets(vertx).connect(port, "127.0.0.1", "/api/llm/ws"));
    follower.textMessageHandler(t -> updates.add(new JsonObject(t)));
    follower.writeTextMessage(new JsonObject().put("type", "subscribe").put("operation_id", "*").encode());
    String healthy = startHealthyLoad();

    String dropped = "dropped: TCP closed without a close frame (a client sees 1006)";
    Object[][] protocolErrors = {
        {"a deflate bomb (RSV1: compressed, never negotiated)", frame(1, true, true, deflateBomb())},
        {"a small compressed frame", frame(1, true, true, new byte[] {0x4b, 0x04, 0x00})},
        {"an unknown opcode", frame(3, true, false, new byte[] {1})},
        {"an unmasked client frame", Buffer.buffer(new byte[] {(byte) 0x81, 2, 'h', 'i'})},
        {"a frame declaring 2^63 bytes", Buffer.buffer(new byte[] {(byte) 0x82, (byte) 0xff, 0x7f, -1, -1, -1, -1, -1, -1, -1, 1, 2, 3, 4})},
        {"a continuation with nothing to continue", frame(0, true, false, new byte[] {'x'})},
        {"bytes that are no frame at all", Buffer.buffer("GARBAGE\r\n\r\n")},
    };
    List<String> wrong = new ArrayList<>();
    for (Object[] c : protocolErrors) {
      try (RawSocket raw = new RawSocket()) {
        raw.socket.write((Buffer) c[1]);
        try {
          waitUntil(Duration.ofSeconds(5), raw.closed::get);
        } catch (AssertionError notClosed) {
          wrong.add(c[0] + ": still open");
          continue;
        }
        if (!raw.received().isEmpty()) {
          wrong.add(c[0] + ": expected " + dropped + ", got " + raw.received());
        }
      }
    }
    assertThat(wrong).as("protocol errors: each connection is dropped").isEmpty();

    // Messages over the limit — in one frame or across fragments — close with 1009 and say why.
    for (Buffer big : List.of(frame(1, true, false, new byte[4000]),
        frame(1, false, false, new byte[900]).appendBuffer(frame(0, false, false, new byte[900])).appendBuffer(frame(0, true, false, new byte[900])))) {
      try (RawSocket raw = new RawSocket()) {
        raw.socket.write(big);
        waitUntil(Duration.ofSeconds(5), () -> !raw.received().isEmpty());
        assertThat(raw.received()).containsExactly("close:1009:message too big: at most 1024 bytes");
      }
    }

    // Binary, invalid UTF-8 and non-JSON text: an error each, and the connection stays usable.
    RawSocket raw = new RawSocket();
    raw.socket.write(frame(2, true, false, new byte[] {0, 1, 2, (byte) 0xff}));
    raw.socket.write(frame(1, true, false, new byte[] {'{', (byte) 0xc3, (byte) 0x28, '}'}));
    raw.socket.write(frame(1, true, false, "\u0000\uffff{{{".getBytes(StandardCharsets.UTF_8)));
    raw.socket.write(frame(1, true, false, new JsonObject().put("type", "subscribe").put("operation_id", "a".repeat(500)).encode()
        .getBytes(StandardCharsets.UTF_8)));
    waitUntil(Duration.ofSeconds(5), () -> raw.received().size() >= 4);
    String notJson = "text:{\"type\":\"error\",\"error\":{\"code\":\"bad_request\",\"message\":\"message is not a JSON object; "
        + "send {\\\"type\\\":\\\"subscribe\\\",\\\"operation_id\\\":\\\"<id>\\\" or \\\"*\\\"}\"}}";
    assertThat(raw.received().subList(0, 3)).containsExactly(
        "text:{\"type\":\"error\",\"error\":{\"code\":\"bad_request\",\"message\":\"binary messages are not understood; send JSON text\"}}",
        notJson, notJson);
    assertThat(raw.received().get(3)).startsWith("text:{\"type\":\"error\"").contains("operation_id");
    assertThat(raw.closed.get()).isFalse();
    raw.close();

    assertHealthyLoadCompleted(healthy);
    waitUntil(Duration.ofSeconds(10), () -> updates.stream()
        .anyMatch(u -> u.encode().contains(healthy) && u.encode().contains("\"completed\"")));
    assertThat(follower.isClosed()).as("the well-behaved client was never disturbed").isFalse();
    follower.close();
    assertOnlyTheHealthyModelWasCreated(before);
  }
}
