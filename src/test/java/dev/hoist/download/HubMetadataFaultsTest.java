package dev.hoist.download;

import static dev.hoist.download.DownloadHarness.WEIGHTS;
import static dev.hoist.download.DownloadHarness.logs;
import static dev.hoist.support.TestSupport.await;
import static dev.hoist.support.TestSupport.waitUntil;
import static org.assertj.core.api.Assertions.assertThat;

import dev.hoist.HoistConfig;
import dev.hoist.support.FaultHub.Answer;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.dns.AddressResolverOptions;
import io.vertx.core.http.HttpServerResponse;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.RoutingContext;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Stream;
import java.util.zip.CRC32;
import java.util.zip.Deflater;
import java.util.zip.GZIPOutputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The hub's metadata API (revision, file list) misbehaving: answers too large to hold — endless,
 * declared huge, or a gzip bomb — redirect loops, an unresolvable host, malformed JSON and wrong
 * types. Each fault fails its operation with a clear error, creates nothing in the cache, and a
 * healthy model loading at the same time completes with the right bytes.
 */
class HubMetadataFaultsTest extends DownloadFixture {

  private static final long MAX = 32L << 20;
  private static byte[] bomb;

  /**
   * 1 GiB of zeros as a valid gzip stream of about 1 MiB, made in well under a second: a mebibyte
   * of zeros deflated with a full flush compresses to the same bytes every time, so the stream is
   * that block 1024 times, a final empty block, and the trailer (CRC-32 and length of the gibibyte).
   */
  static synchronized byte[] gzipBomb() {
    if (bomb == null) {
      byte[] zeros = new byte[1 << 20];
      Deflater deflater = new Deflater(Deflater.BEST_COMPRESSION, true);
      deflater.setInput(zeros);
      ByteArrayOutputStream block = new ByteArrayOutputStream();
      byte[] buf = new byte[64 << 10];
      int n;
      do {
        n = deflater.deflate(buf, 0, buf.length, Deflater.FULL_FLUSH);
        block.write(buf, 0, n);
      } while (n == buf.length || !deflater.needsInput());
      deflater.finish();
      ByteArrayOutputStream last = new ByteArrayOutputStream();
      while (!deflater.finished()) {
        last.write(buf, 0, deflater.deflate(buf));
      }
      deflater.end();
      CRC32 crc = new CRC32();
      for (int i = 0; i < 1024; i++) {
        crc.update(zeros);
      }
      ByteArrayOutputStream out = new ByteArrayOutputStream(1100 * block.size() + 64);
      out.writeBytes(new byte[] {0x1f, (byte) 0x8b, 8, 0, 0, 0, 0, 0, 0, (byte) 0xff});
      byte[] b = block.toByteArray();
      for (int i = 0; i < 1024; i++) {
        out.writeBytes(b);
      }
      out.writeBytes(last.toByteArray());
      Buffer trailer = Buffer.buffer().appendIntLE((int) crc.getValue()).appendIntLE(1 << 30);
      out.writeBytes(trailer.getBytes());
      bomb = out.toByteArray();
    }
    return bomb;
  }

  static byte[] gzip(Buffer content) throws IOException {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    try (GZIPOutputStream gz = new GZIPOutputStream(out)) {
      gz.write(content.getBytes());
    }
    return out.toByteArray();
  }

  private static boolean isTree(RoutingContext ctx, String repo) {
    return ctx.request().path().contains("/api/models/" + repo + "/tree/");
  }

  /** The operation failed with {@code code}, the message says {@code message}, and the repo has nothing in the cache. */
  private void assertFailedCreatingNothing(JsonObject op, String repo, String code, boolean retryable, String message) throws IOException {
    assertThat(op.getString("status")).as("logs %s", logs(op)).isEqualTo("error");
    assertThat(op.getJsonObject("error").getString("code")).isEqualTo(code);
    assertThat(op.getJsonObject("error").getBoolean("retryable")).isEqualTo(retryable);
    assertThat(op.getString("message")).contains(message).doesNotContain("Exception");
    assertThat(h.repoDir(repo)).as("nothing of %s in the cache", repo).doesNotExist();
    try (Stream<Path> all = Files.walk(dataDir)) {
      assertThat(all.map(p -> dataDir.relativize(p).toString()))
          .as("the cache holds the healthy models' files only")
          .allMatch(p -> !p.startsWith("hub/") || p.startsWith("hub/models--test--healthy-") || p.startsWith("hub/.locks"));
    }
  }

  @Test
  void anEndlessFileListIsCutOffAtTheLimitAndItsConnectionDropped() throws Exception {
    h.repo("test/endless");
    AtomicLong sent = new AtomicLong();
    AtomicBoolean closed = new AtomicBoolean();
    hub.onApi(ctx -> {
      if (!isTree(ctx, "test/endless")) {
        ctx.next();
        return;
      }
      HttpServerResponse r = ctx.response().setChunked(true).putHeader("Content-Type", "application/json");
      ctx.request().connection().closeHandler(v -> closed.set(true));
      Buffer chunk = Buffer.buffer("[" + "{\"type\":\"directory\",\"path\":\"d\"},".repeat(2000));
      Runnable[] pump = new Runnable[1];
      pump[0] = () -> {
        while (!closed.get() && !r.writeQueueFull()) {
          sent.addAndGet(chunk.length());
          r.write(chunk);
        }
        if (!closed.get()) {
          r.drainHandler(v -> pump[0].run());
        }
      };
      pump[0].run();
    });
    h.startHoist();

    long start = System.nanoTime();
    JsonObject op = h.loadBesideHealthy("test/endless");
    long ms = (System.nanoTime() - start) / 1_000_000;
    assertFailedCreatingNothing(op, "test/endless", "hub_error", true, "hub's metadata answer is larger than 32 MiB; stopped reading it");
    assertThat(ms).as("failed fast").isLessThan(20_000);
    waitUntil(Duration.ofSeconds(5), closed::get);
    long stopped = sent.get();
    Thread.sleep(300);
    assertThat(sent.get()).as("the hub was stopped from sending more").isEqualTo(stopped);
    assertThat(stopped).as("read no more than the limit and what the sockets held").isBetween(MAX, MAX + (24L << 20));
  }

  @Test
  void aDeclaredOversizedAnswerIsRefusedBeforeItsBodyIsRead() throws Exception {
    h.repo("test/declared");
    AtomicBoolean closed = new AtomicBoolean();
    hub.onApi(ctx -> {
      if (!isTree(ctx, "test/declared")) {
        ctx.next();
        return;
      }
      ctx.request().connection().closeHandler(v -> closed.set(true));
      ctx.response().putHeader("Content-Length", String.valueOf(1L << 30)).putHeader("Content-Type", "application/json").write("[");
    });
    h.startHoist();

    JsonObject op = h.loadBesideHealthy("test/declared");
    assertFailedCreatingNothing(op, "test/declared", "hub_error", true,
        "hub's metadata answer is larger than 32 MiB (Content-Length: 1073741824); not reading it");
    waitUntil(Duration.ofSeconds(5), closed::get);
  }

  @Test
  void aGzipBombedFileListFailsFastOnItsDecompressedSize() throws Exception {
    byte[] bomb = gzipBomb();
    assertThat(bomb.length).as("1 GiB of zeros gzipped").isBetween(500_000, 2_000_000);
    h.repo("test/bomb");
    AtomicBoolean closed = new AtomicBoolean();
    AtomicInteger requests = new AtomicInteger();
    hub.onApi(ctx -> {
      if (!isTree(ctx, "test/bomb")) {
        ctx.next();
        return;
      }
      requests.incrementAndGet();
      assertThat(ctx.request().getHeader("Accept-Encoding")).isEqualTo("gzip");
      ctx.request().connection().closeHandler(v -> closed.set(true));
      ctx.response().putHeader("Content-Encoding", "gzip").putHeader("Content-Type", "application/json").end(Buffer.buffer(bomb));
    });
    h.startHoist();

    long start = System.nanoTime();
    JsonObject op = h.loadBesideHealthy("test/bomb");
    long ms = (System.nanoTime() - start) / 1_000_000;
    assertFailedCreatingNothing(op, "test/bomb", "hub_error", true,
        "hub's metadata answer is larger than 32 MiB once decompressed; stopped reading it");
    assertThat(ms).as("failed fast, not after inflating a gibibyte").isLessThan(15_000);
    assertThat(requests.get()).as("a clear answer is not retried").isEqualTo(1);
    waitUntil(Duration.ofSeconds(5), closed::get);
  }

  @Test
  void aGzippedMetadataAnswerWithinTheLimitIsRead() throws Exception {
    h.repo("test/gzipped");
    AtomicInteger gzipped = new AtomicInteger();
    hub.onApi(ctx -> {
      if (!ctx.request().path().contains("/api/models/test/gzipped/")) {
        ctx.next();
        return;
      }
      hub.original(ctx).onSuccess(body -> {
        try {
          gzipped.incrementAndGet();
          ctx.response().putHeader("Content-Encoding", "gzip").putHeader("Content-Type", "application/json").end(Buffer.buffer(gzip(body)));
        } catch (IOException e) {
          ctx.fail(e);
        }
      }).onFailure(ctx::fail);
    });
    h.startHoist();

    JsonObject op = h.loadBesideHealthy("test/gzipped");
    assertThat(op.getString("status")).as("logs %s", logs(op)).isEqualTo("completed");
    assertThat(gzipped.get()).as("the revision and the file list came gzipped").isEqualTo(2);
    byte[] weights = DownloadHarness.defaultWeights();
    assertThat(Files.readAllBytes(h.blob("test/gzipped", DownloadHarness.sha256(weights)))).isEqualTo(weights);
  }

  @Test
  void aMetadataRedirectLoopFailsWithAClearErrorAfterFiveHops() throws Exception {
    h.repo("test/loop");
    AtomicInteger hops = new AtomicInteger();
    hub.onApi(ctx -> {
      if (!ctx.request().path().contains("/api/models/test/loop/revision/")) {
        ctx.next();
        return;
      }
      hops.incrementAndGet();
      ctx.response().setStatusCode(302).putHeader("Location", ctx.request().uri()).end();
    });
    h.startHoist();

    JsonObject op = h.loadBesideHealthy("test/loop");
    assertFailedCreatingNothing(op, "test/loop", "hub_error", true,
        "the hub redirected more than 5 times for one metadata request (a redirect loop?)");
    assertThat(hops.get()).as("the first request and five redirects, not retried").isEqualTo(6);
  }

  @Test
  void aFileRedirectLoopFailsWithAClearErrorAndKeepsNothing() throws Exception {
    h.repo("test/fileloop");
    hub.on(WEIGHTS, (req, n) -> Answer.redirect(hub.endpoint() + req.path));
    h.startHoist();

    JsonObject op = h.loadBesideHealthy("test/fileloop");
    assertThat(op.getString("status")).as("logs %s", logs(op)).isEqualTo("error");
    assertThat(op.getJsonObject("error").getString("code")).isEqualTo("hub_error");
    assertThat(op.getString("message")).contains("the hub redirected more than 5 times for one file");
    assertThat(hub.seen(WEIGHTS)).as("the first request and five redirects, not retried").hasSize(6);
    String weightsSha = DownloadHarness.sha256(DownloadHarness.defaultWeights());
    assertThat(h.blob("test/fileloop", weightsSha)).doesNotExist();
    try (Stream<Path> blobs = Files.list(h.repoDir("test/fileloop").resolve("blobs"))) {
      assertThat(blobs.filter(p -> p.getFileName().toString().startsWith(weightsSha)))
          .as("no byte of the weights was written").allMatch(p -> p.toFile().length() == 0);
    }
  }

  @ParameterizedTest(name = "{0}")
  @CsvSource(delimiter = '|', value = {
      "revision | {not json                                              | hub's answer is not a JSON object",
      "revision | [1,2,3]                                                | hub's answer is not a JSON object",
      "revision | {\"sha\":12345}                                        | without a commit id",
      "revision | {\"sha\":\"../../../../etc\"}                          | without a commit id",
      "tree     | {\"files\":[]}                                         | hub's file list for test/bad is not JSON",
      "tree     | [\"model.safetensors\"]                                | has an entry that is not an object",
      "tree     | [{\"type\":\"file\",\"path\":\"x\",\"size\":\"big\"}]  | has an entry with a field of the wrong type",
      "tree     | [{\"type\":\"file\",\"path\":\"x\",\"size\":1,\"lfs\":\"yes\"}] | has an entry with a field of the wrong type",
  })
  void malformedMetadataOrWrongTypesFailWithAClearErrorAndCreateNothing(String endpoint, String body, String message) throws Exception {
    h.repo("test/bad");
    AtomicInteger answered = new AtomicInteger();
    hub.onApi(ctx -> {
      if (!ctx.request().path().contains("/api/models/test/bad/" + endpoint + "/")) {
        ctx.next();
        return;
      }
      answered.incrementAndGet();
      ctx.response().putHeader("Content-Type", "application/json").end(body);
    });
    h.startHoist();

    JsonObject op = h.loadBesideHealthy("test/bad");
    assertFailedCreatingNothing(op, "test/bad", "hub_error", true, message);
    assertThat(answered.get()).as("a clear answer is not retried").isEqualTo(1);
    assertThat(logs(op)).doesNotContain("Retrying");
  }

  @Test
  void anUnresolvableHubFailsRetryablyWithinBoundedTime() throws Exception {
    Path models = hubDir.resolveSibling(hubDir.getFileName() + "-models.json");
    Files.writeString(models, new JsonObject().put("models", new JsonArray().add(new JsonObject()
        .put("name", "lost").put("repo", "test/lost").put("hub", "mirror"))).encode());
    h.startHoist(new JsonObject().put(HoistConfig.MODELS_FILE, models.toString())
        .put(HoistConfig.MIRROR_ENDPOINT, "http://hub.invalid:1").put(HoistConfig.DOWNLOAD_RETRIES, 1));

    long start = System.nanoTime();
    JsonObject op = h.loadBesideHealthy("lost");
    long ms = (System.nanoTime() - start) / 1_000_000;
    assertFailedCreatingNothing(op, "test/lost", "hub_unreachable", true, "could not resolve test/lost@main after 2 attempts");
    assertThat(op.getString("message")).contains("hub.invalid");
    assertThat(ms).as("a name that does not resolve fails in bounded time").isLessThan(15_000);
    Files.deleteIfExists(models);
  }

  /**
   * Where the nameserver never answers (a sandbox without DNS, a dead resolver), name resolution
   * would wait as long as the resolver lets it: here a minute. The metadata request bounds it.
   */
  @Test
  void aNameserverThatNeverAnswersFailsTheOperationWithinTheConnectDeadline() throws Exception {
    await(vertx.close());
    DatagramSocket silent = new DatagramSocket(0, InetAddress.getLoopbackAddress());
    try {
      vertx = Vertx.vertx(new VertxOptions().setAddressResolverOptions(new AddressResolverOptions()
          .addServer("127.0.0.1:" + silent.getLocalPort()).setQueryTimeout(60_000).setMaxQueries(1)));
      h = new DownloadHarness(vertx, dataDir, hubDir);
      hub = h.startHub();
      Path models = hubDir.resolveSibling(hubDir.getFileName() + "-models.json");
      Files.writeString(models, new JsonObject().put("models", new JsonArray().add(new JsonObject()
          .put("name", "lost").put("repo", "test/lost").put("hub", "mirror"))).encode());
      h.startHoist(new JsonObject().put(HoistConfig.MODELS_FILE, models.toString())
          .put(HoistConfig.MIRROR_ENDPOINT, "http://hub.silent.test:1").put(HoistConfig.DOWNLOAD_RETRIES, 0));

      long start = System.nanoTime();
      JsonObject op = h.loadBesideHealthy("lost");
      long ms = (System.nanoTime() - start) / 1_000_000;
      assertFailedCreatingNothing(op, "test/lost", "hub_unreachable", true, "could not resolve test/lost@main after 1 attempts");
      assertThat(op.getString("message")).contains("hub.silent.test");
      assertThat(ms).as("bounded by the connect deadline, not the resolver's minute").isBetween(9_000L, 25_000L);
      Files.deleteIfExists(models);
    } finally {
      silent.close();
    }
  }
}
