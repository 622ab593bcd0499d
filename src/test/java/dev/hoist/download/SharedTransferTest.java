package dev.hoist.download;

import static dev.hoist.download.DownloadHarness.WEIGHTS;
import static dev.hoist.download.DownloadHarness.logs;
import static dev.hoist.download.DownloadHarness.sha256;
import static dev.hoist.support.TestSupport.await;
import static dev.hoist.support.TestSupport.waitUntil;
import static org.assertj.core.api.Assertions.assertThat;

import dev.hoist.HoistConfig;
import dev.hoist.support.BlobLockHolder;
import dev.hoist.support.FaultHub;
import dev.hoist.support.FaultHub.Answer;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * One blob, several takers: operations in one Hoist share one transfer and all show its progress;
 * Hoists in different processes (or Vert.x instances) on one cache take turns through the blob's
 * lock, and the one that waited finds the blob complete instead of fetching it again.
 */
class SharedTransferTest {

  @TempDir
  Path dataDir;
  @TempDir
  Path otherDataDir;
  @TempDir
  Path hubDir;
  private Vertx vertx;
  private Vertx otherVertx;
  private DownloadHarness h;
  private FaultHub hub;
  private byte[] weights;
  private String sha;

  @BeforeEach
  void setUp() throws Exception {
    vertx = Vertx.vertx();
    h = new DownloadHarness(vertx, dataDir, hubDir);
    hub = h.startHub();
    weights = DownloadHarness.defaultWeights();
    sha = sha256(weights);
    h.repo("test/shared");
  }

  @AfterEach
  void tearDown() throws Exception {
    try {
      h.assertCacheIntact();
    } finally {
      await(vertx.close());
      if (otherVertx != null) {
        await(otherVertx.close());
      }
    }
  }

  @Test
  void twoOperationsForTheSameModelShareOneTransferAndBothShowItsProgress() throws Exception {
    hub.on(WEIGHTS, (req, n) -> Answer.normal().rate(weights.length));
    h.startHoist();

    String first = h.start("test/shared");
    waitUntil(Duration.ofSeconds(20), () -> h.get(first).getJsonObject("stage").getLong("bytes_done") > 1000);
    // Different options make it a second operation (the registry joins identical requests into one).
    String second = h.start("test/shared", new JsonObject().put("include", new JsonArray().add("*.json").add("*.safetensors")));
    JsonObject one = h.finish(first);
    JsonObject two = h.finish(second);

    assertThat(second).isNotEqualTo(first);
    assertThat(one.getString("status")).as("logs %s", logs(one)).isEqualTo("completed");
    assertThat(two.getString("status")).as("logs %s", logs(two)).isEqualTo("completed");
    assertThat(hub.seen(WEIGHTS)).as("the hub was asked once").hasSize(1);
    assertThat(hub.bytesSent(WEIGHTS)).as("and sent the bytes once").isEqualTo(weights.length);
    assertThat(logs(two)).contains("model.safetensors is already being downloaded for another operation; sharing that transfer");
    long total = weights.length + DownloadHarness.CONFIG.length();
    List<Long> seenBySecond = h.updates(second).stream().map(u -> u.getJsonObject("stage"))
        .filter(s -> "downloading".equals(s.getString("name"))).map(s -> s.getLong("bytes_done"))
        .filter(b -> b > 0 && b < total).distinct().toList();
    assertThat(seenBySecond).as("the second operation shows the shared transfer moving").hasSizeGreaterThanOrEqualTo(2).isSorted();
    assertThat(sha256(Files.readAllBytes(h.blob("test/shared", sha)))).isEqualTo(sha);
  }

  @Test
  void cancellingOneOfTwoOperationsKeepsTheSharedTransferForTheOther() throws Exception {
    hub.on(WEIGHTS, (req, n) -> Answer.normal().rate(weights.length));
    h.startHoist();

    String first = h.start("test/shared");
    waitUntil(Duration.ofSeconds(20), () -> h.get(first).getJsonObject("stage").getLong("bytes_done") > 1000);
    String second = h.start("test/shared", new JsonObject().put("include", new JsonArray().add("*.json").add("*.safetensors")));
    waitUntil(Duration.ofSeconds(20), () -> logs(h.get(second)).contains("sharing that transfer"));
    var cancelled = await(h.http.post(h.hoist.httpPort(), "127.0.0.1", "/api/llm/progress/" + first + "/cancel").send());
    assertThat(cancelled.statusCode()).as(cancelled.bodyAsString()).isLessThan(300);

    JsonObject two = h.finish(second);
    assertThat(two.getString("status")).as("logs %s", logs(two)).isEqualTo("completed");
    assertThat(h.get(first).getString("status")).isEqualTo("cancelled");
    assertThat(hub.seen(WEIGHTS)).as("the transfer went on for the other operation").hasSize(1);
    assertThat(sha256(Files.readAllBytes(h.blob("test/shared", sha)))).isEqualTo(sha);
  }

  @Test
  void aCancelledDownloadStopsAtOnceAndKeepsItsBytesForARetry() throws Exception {
    hub.on(WEIGHTS, (req, n) -> Answer.normal().rate(weights.length));
    h.startHoist();

    String id = h.start("test/shared");
    waitUntil(Duration.ofSeconds(20), () -> h.get(id).getJsonObject("stage").getLong("bytes_done") > weights.length / 4);
    await(h.http.post(h.hoist.httpPort(), "127.0.0.1", "/api/llm/progress/" + id + "/cancel").send());
    waitUntil(Duration.ofSeconds(5), () -> "cancelled".equals(h.get(id).getString("status")));
    long sent = hub.bytesSent(WEIGHTS);
    Thread.sleep(400);
    assertThat(hub.bytesSent(WEIGHTS)).as("the connection was closed").isLessThanOrEqualTo(sent + 64 * 1024);
    long seqAfterCancel = h.get(id).getLong("seq");
    assertThat(h.blob("test/shared", sha + ".incomplete")).exists();

    JsonObject again = h.loadAndWait("test/shared");
    assertThat(again.getString("status")).as("logs %s", logs(again)).isEqualTo("completed");
    assertThat(logs(again)).contains("Resuming model.safetensors");
    assertThat(hub.bytesSent(WEIGHTS)).isLessThan((long) (weights.length * 1.2));
    assertThat(h.get(id).getLong("seq")).as("no report followed the cancel").isEqualTo(seqAfterCancel);
  }

  @Test
  void twoHoistsOnOneCacheTakeTurnsAndTheSecondFindsTheBlobComplete() throws Exception {
    hub.on(WEIGHTS, (req, n) -> Answer.normal().rate(weights.length));
    h.startHoist();
    otherVertx = Vertx.vertx();
    DownloadHarness other = new DownloadHarness(otherVertx, otherDataDir, hubDir);
    other.hub = hub;
    other.startHoist(new JsonObject().put(HoistConfig.HF_HUB_CACHE, dataDir.resolve("hub").toString()));

    String first = h.start("test/shared");
    waitUntil(Duration.ofSeconds(20), () -> h.get(first).getJsonObject("stage").getLong("bytes_done") > 1000);
    String second = other.start("test/shared");
    JsonObject one = h.finish(first);
    JsonObject two = other.finish(second);

    assertThat(one.getString("status")).as("logs %s", logs(one)).isEqualTo("completed");
    assertThat(two.getString("status")).as("logs %s", logs(two)).isEqualTo("completed");
    // Both Hoists live in this test's JVM, so the lock is held "in this process" (the test with a
    // separate JVM below covers the OS lock between processes).
    assertThat(logs(two)).contains("Another download in this process is downloading model.safetensors into this cache; waiting for it")
        .contains("model.safetensors was completed by another download in this process; not fetching it again");
    assertThat(hub.seen(WEIGHTS)).hasSize(1);
    assertThat(hub.bytesSent(WEIGHTS)).isEqualTo(weights.length);
    assertThat(sha256(Files.readAllBytes(h.blob("test/shared", sha)))).isEqualTo(sha);
  }

  @Test
  void aBlobLockedByAnotherProcessIsWaitedForAndNotFetched() throws Exception {
    h.startHoist();
    Path source = Files.write(hubDir.resolve("weights.copy"), weights);
    Path lock = dataDir.resolve("hub/.locks/models--test--shared/" + sha + ".lock");
    Path classes = Paths.get(BlobLockHolder.class.getProtectionDomain().getCodeSource().getLocation().toURI());
    Process holder = new ProcessBuilder(Paths.get(System.getProperty("java.home"), "bin", "java").toString(),
        "-cp", classes.toString(), BlobLockHolder.class.getName(),
        lock.toString(), source.toString(), h.blob("test/shared", sha).toString(), "1500")
        .redirectErrorStream(true).start();
    try {
      BufferedReader out = new BufferedReader(new InputStreamReader(holder.getInputStream(), StandardCharsets.UTF_8));
      assertThat(out.readLine()).isEqualTo("LOCKED");

      JsonObject op = h.loadAndWait("test/shared");
      assertThat(op.getString("status")).as("logs %s", logs(op)).isEqualTo("completed");
      assertThat(logs(op)).contains("Another process is downloading model.safetensors")
          .contains("model.safetensors was completed by another process");
      assertThat(hub.seen(WEIGHTS)).isEmpty();
      assertThat(holder.waitFor(20, TimeUnit.SECONDS)).isTrue();
      assertThat(holder.exitValue()).isZero();
    } finally {
      holder.destroyForcibly();
    }
  }
}
