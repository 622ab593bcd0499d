package dev.hoist.download;

import static dev.hoist.support.TestSupport.await;
import static org.assertj.core.api.Assertions.assertThat;

import dev.hoist.contract.HoistException;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.net.NetClient;
import io.vertx.core.net.NetServer;
import io.vertx.core.net.NetSocket;
import java.io.ByteArrayOutputStream;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.Random;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.BiConsumer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Hoist's own HTTP/1.1 reader for file bodies against a raw TCP server that answers byte for byte as
 * each test scripts it: the request it sends, bodies in pieces, interim answers, what it leaves to
 * the HTTP client, garbage, cuts, kills — and a body that arrived whole while the reader was paused.
 */
class DirectGetTest {

  private Vertx vertx;
  private NetClient net;
  private NetServer server;
  private final CopyOnWriteArrayList<String> requests = new CopyOnWriteArrayList<>();
  private final AtomicBoolean serverSawClose = new AtomicBoolean();

  @BeforeEach
  void setUp() {
    vertx = Vertx.vertx();
    net = vertx.createNetClient();
  }

  @AfterEach
  void tearDown() {
    await(vertx.close());
  }

  /** A server that runs {@code answer} with the socket and the request's head once the head is in. */
  private int serve(BiConsumer<NetSocket, String> answer) {
    server = vertx.createNetServer().connectHandler(sock -> {
      StringBuilder head = new StringBuilder();
      AtomicBoolean answered = new AtomicBoolean();
      sock.closeHandler(v -> serverSawClose.set(true));
      sock.handler(buf -> {
        head.append(buf.toString(StandardCharsets.ISO_8859_1));
        if (!answered.get() && head.indexOf("\r\n\r\n") >= 0) {
          answered.set(true);
          requests.add(head.toString());
          answer.accept(sock, head.toString());
        }
      });
    });
    return await(server.listen(0, "127.0.0.1")).actualPort();
  }

  /** What the reader got: the answer, the body's bytes, and how the body ended. */
  private static final class Got {
    FileAnswer answer;
    final ByteArrayOutputStream body = new ByteArrayOutputStream();
    boolean ended;
    Throwable error;
  }

  private Got get(int port, String range) throws Exception {
    return get(port, range, 0, 0);
  }

  /**
   * GETs /f and reads the body: {@code delayBodyMs} before asking for it, and a pause of
   * {@code pauseMs} after each piece (a slow disk).
   */
  private Got get(int port, String range, long delayBodyMs, long pauseMs) throws Exception {
    Got got = new Got();
    Promise<Got> done = Promise.promise();
    vertx.getOrCreateContext().runOnContext(v -> DirectGet.send(vertx, net, URI.create("http://127.0.0.1:" + port + "/f?x=1"),
        range, "Bearer secret", reset -> { }, 5_000, false).onComplete(ar -> {
          if (ar.failed()) {
            got.error = ar.cause();
            done.complete(got);
            return;
          }
          got.answer = ar.result();
          if (got.answer.status() / 100 != 2) { // judged by its head alone, as RangedTransfer does
            got.answer.discard();
            done.complete(got);
            return;
          }
          vertx.setTimer(Math.max(1, delayBodyMs), t -> got.answer.body(buf -> {
            byte[] bytes = new byte[buf.readableBytes()];
            buf.readBytes(bytes);
            buf.release();
            got.body.write(bytes, 0, bytes.length);
            if (pauseMs > 0) {
              got.answer.pause();
              vertx.setTimer(pauseMs, t2 -> got.answer.resume());
            }
          }, end -> {
            got.ended = true;
            done.tryComplete(got);
          }, err -> {
            got.error = err;
            done.tryComplete(got);
          }));
        }));
    return done.future().toCompletionStage().toCompletableFuture().get(20, TimeUnit.SECONDS);
  }

  private static byte[] bytes(int n, int seed) {
    byte[] b = new byte[n];
    new Random(seed).nextBytes(b);
    return b;
  }

  @Test
  void sendsAPlainGetAndTakesABodyThatComesInPiecesUpToItsLength() throws Exception {
    byte[] body = bytes(300_000, 1);
    int port = serve((sock, req) -> {
      sock.write("HTTP/1.1 206 Partial Content\r\nContent-Range: bytes 0-299999/300000\r\nContent-Length: 300000\r\n\r\n");
      // In uneven pieces, and the connection stays open after the last: the length ends the body.
      int[] cuts = {1, 17, 4096, 65_536, 200_000, 300_000};
      int from = 0;
      for (int to : cuts) {
        sock.write(Buffer.buffer(java.util.Arrays.copyOfRange(body, from, to)));
        from = to;
      }
    });

    Got got = get(port, "bytes=0-299999");
    assertThat(got.error).isNull();
    assertThat(got.ended).isTrue();
    assertThat(got.answer.status()).isEqualTo(206);
    assertThat(got.answer.header("content-range")).isEqualTo("bytes 0-299999/300000");
    assertThat(got.body.toByteArray()).isEqualTo(body);
    String req = requests.get(0);
    assertThat(req).startsWith("GET /f?x=1 HTTP/1.1\r\n").contains("\r\nHost: 127.0.0.1:" + port + "\r\n")
        .contains("\r\nRange: bytes=0-299999\r\n").contains("\r\nConnection: close\r\n")
        .contains("\r\nAccept-Encoding: identity\r\n").contains("\r\nAuthorization: Bearer secret\r\n");
  }

  @Test
  void interimAnswersAreSkippedAndBytesBeyondTheLengthAreNotDelivered() throws Exception {
    int port = serve((sock, req) -> sock.write("HTTP/1.1 103 Early Hints\r\nLink: </x>; rel=preload\r\n\r\n"
        + "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhelloEXTRA"));

    Got got = get(port, null);
    assertThat(got.error).isNull();
    assertThat(got.answer.status()).isEqualTo(200);
    assertThat(got.answer.header("Link")).as("the interim answer's headers are not the answer's").isNull();
    assertThat(got.body.toString(StandardCharsets.ISO_8859_1)).isEqualTo("hello");
  }

  @Test
  void aBodyWithoutContentLengthIsLeftToTheHttpClient() throws Exception {
    int port = serve((sock, req) -> sock.write("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"));

    Got got = get(port, null);
    assertThat(got.error).isInstanceOf(DirectGet.NotDirect.class).hasMessageContaining("chunked");
  }

  @Test
  void anErrorStatusIsAnsweredWithItsHeadersForTheCallerToJudge() throws Exception {
    int port = serve((sock, req) -> sock.write("HTTP/1.1 429 Too Many Requests\r\nRetry-After: 7\r\nTransfer-Encoding: chunked\r\n\r\n"));

    Got got = get(port, null);
    assertThat(got.answer).isNotNull();
    assertThat(got.answer.status()).isEqualTo(429);
    assertThat(got.answer.header("retry-after")).isEqualTo("7");
  }

  @Test
  void somethingThatIsNotHttpIsAClearError() throws Exception {
    int port = serve((sock, req) -> sock.write("SSH-2.0-OpenSSH_9.2\r\n\r\n"));

    Got got = get(port, null);
    assertThat(got.error).isInstanceOf(HoistException.class).hasMessageContaining("HTTP/1.1 status line");
  }

  @Test
  void headersWithoutEndAreCutOff() throws Exception {
    int port = serve((sock, req) -> {
      sock.write("HTTP/1.1 200 OK\r\n");
      sock.write("X-Filler: " + "a".repeat(100_000));
    });

    Got got = get(port, null);
    assertThat(got.error).isInstanceOf(HoistException.class).hasMessageContaining("no end of headers");
  }

  @Test
  void aBodyCutShortIsAnErrorAndNotAnEnd() throws Exception {
    int port = serve((sock, req) -> {
      sock.write("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n" + "x".repeat(400));
      vertx.setTimer(50, t -> sock.close());
    });

    Got got = get(port, null);
    assertThat(got.ended).isFalse();
    assertThat(got.error).hasMessageContaining("closed the connection after 400 of 1000 bytes");
    assertThat(got.body.size()).isEqualTo(400);
  }

  @Test
  void aBodyThatArrivedWholeWhileTheReaderWasPausedIsNotTakenForACut() throws Exception {
    // The hub sends everything and closes at once; the reader asks for the body only later and
    // pauses after every piece. The close must not cut what was already received.
    byte[] body = bytes(4 << 20, 2);
    int port = serve((sock, req) -> {
      sock.write("HTTP/1.1 200 OK\r\nContent-Length: " + body.length + "\r\n\r\n");
      sock.end(Buffer.buffer(body));
    });

    Got got = get(port, null, 300, 5);
    assertThat(got.error).isNull();
    assertThat(got.ended).isTrue();
    assertThat(got.body.toByteArray()).isEqualTo(body);
  }

  @Test
  void killClosesTheConnectionAndFailsTheBody() throws Exception {
    int port = serve((sock, req) -> sock.write("HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n" + "x".repeat(10)));
    Got got = new Got();
    Promise<Got> done = Promise.promise();
    vertx.getOrCreateContext().runOnContext(v -> DirectGet.send(vertx, net, URI.create("http://127.0.0.1:" + port + "/f"),
        null, null, reset -> { }, 5_000, false).onSuccess(answer -> answer.body(buf -> {
          buf.release();
          answer.kill();
        }, end -> done.tryComplete(got), err -> {
          got.error = err;
          done.tryComplete(got);
        })));
    done.future().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
    assertThat(got.error).hasMessageContaining("reset");
    long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
    while (!serverSawClose.get() && System.nanoTime() < until) {
      Thread.sleep(20);
    }
    assertThat(serverSawClose).as("the hub saw the connection close").isTrue();
  }

  @Test
  void noConnectionIsAnErrorWithinTheDeadline() throws Exception {
    int port = serve((sock, req) -> { });
    await(server.close());

    Got got = get(port, null);
    assertThat(got.error).isNotNull();
    assertThat(got.answer).isNull();
  }

  @Test
  void aLineBreakInTheRequestIsRefused() throws Exception {
    int port = serve((sock, req) -> sock.write("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"));
    Promise<FileAnswer> answer = Promise.promise();
    vertx.getOrCreateContext().runOnContext(v -> DirectGet.send(vertx, net, URI.create("http://127.0.0.1:" + port + "/f"),
        "bytes=0-1\r\nX-Evil: 1", null, reset -> { }, 5_000, false).onComplete(answer));
    ExecutionException e = org.junit.jupiter.api.Assertions.assertThrows(ExecutionException.class,
        () -> answer.future().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS));
    assertThat(e.getCause()).hasMessageContaining("line break");
    Thread.sleep(100);
    assertThat(requests).as("nothing was sent").isEmpty();
  }
}
