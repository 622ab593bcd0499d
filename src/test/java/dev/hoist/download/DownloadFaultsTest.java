package dev.hoist.download;

import static dev.hoist.download.DownloadHarness.WEIGHTS;
import static dev.hoist.download.DownloadHarness.logs;
import static dev.hoist.download.DownloadHarness.sha256;
import static dev.hoist.support.TestSupport.await;
import static org.assertj.core.api.Assertions.assertThat;

import dev.hoist.support.FaultHub;
import dev.hoist.support.FaultHub.Answer;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The download stage against a hub that misbehaves on the network: a real HTTP server on 127.0.0.1
 * serving test repos, with faults injected per request. Every fault runs beside a healthy load of
 * another model ({@link DownloadHarness#loadBesideHealthy}) that must complete with the right bytes,
 * and every test also checks that the cache holds only verified blobs under final names.
 */
class DownloadFaultsTest {

  @TempDir
  Path dataDir;
  @TempDir
  Path hubDir;
  private Vertx vertx;
  private DownloadHarness h;
  private FaultHub hub;
  private byte[] weights;
  private String weightsSha256;

  @BeforeEach
  void setUp() throws Exception {
    vertx = Vertx.vertx();
    h = new DownloadHarness(vertx, dataDir, hubDir);
    hub = h.startHub();
    weights = DownloadHarness.defaultWeights();
    weightsSha256 = sha256(weights);
  }

  @AfterEach
  void tearDown() throws Exception {
    try {
      h.assertCacheIntact();
    } finally {
      await(vertx.close());
    }
  }

  @Test
  void aCorruptedSafetensorsHeaderFailsTheOperationNamingTheFile() throws Exception {
    String header = "{\"w\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,999]}}";
    ByteBuffer file = ByteBuffer.allocate(8 + header.length() + 16).order(ByteOrder.LITTLE_ENDIAN);
    file.putLong(header.length()).put(header.getBytes(StandardCharsets.UTF_8));
    h.repo("test/corrupt", file.array()).startHoist();

    JsonObject op = h.loadBesideHealthy("test/corrupt");
    assertThat(op.getString("status")).isEqualTo("error");
    assertThat(op.getString("message")).contains("model.safetensors").contains("'w'");
    assertThat(op.getJsonObject("error").getString("code")).isEqualTo("invalid_model_file");
    assertThat(op.getJsonObject("error").getBoolean("retryable")).isFalse();
    assertThat(op.getInteger("progress")).isBetween(60, 84);
    assertThat(op.getJsonArray("logs").getString(op.getJsonArray("logs").size() - 1)).contains("ERROR").contains("model.safetensors");
  }

  @Test
  void aPartialFileOnDiskIsResumedNotFetchedAgain() throws Exception {
    h.repo("test/resume");
    Path part = h.blob("test/resume", weightsSha256 + ".incomplete");
    Files.createDirectories(part.getParent());
    int half = weights.length / 2;
    Files.write(part, Arrays.copyOf(weights, half));
    h.startHoist();

    JsonObject op = h.loadAndWait("test/resume");
    assertThat(op.getString("status")).as("logs %s", logs(op)).isEqualTo("completed");
    assertThat(logs(op)).contains("Resuming model.safetensors");
    assertThat(hub.bytesSent()).isLessThanOrEqualTo(weights.length - half + 1_000L);
    assertThat(hub.seen(WEIGHTS).get(0).range).isEqualTo("bytes=" + half + "-");
    assertBlobIntact("test/resume");
    assertThat(logs(op)).doesNotContain("README.md");
  }

  @ParameterizedTest(name = "cut after {0} of the body")
  @ValueSource(doubles = {0.10, 0.50, 0.99})
  void aConnectionCutIsRetriedAndResumedFromTheBytesOnDisk(double fraction) throws Exception {
    h.repo("test/cut");
    long cut = (long) (weights.length * fraction);
    hub.on(WEIGHTS, (req, n) -> n == 0 ? Answer.normal().cutAfter(cut) : Answer.normal());
    h.startHoist();

    JsonObject op = h.loadBesideHealthy("test/cut");
    assertThat(op.getString("status")).as("logs %s", logs(op)).isEqualTo("completed");
    assertThat(logs(op)).contains("Retrying download model.safetensors").contains("Resuming model.safetensors");
    List<FaultHub.Seen> requests = hub.seen(WEIGHTS);
    assertThat(requests).hasSize(2);
    long resumedFrom = Long.parseLong(requests.get(1).range.replaceAll("bytes=(\\d+)-", "$1"));
    assertThat(resumedFrom).isBetween(1L, cut);
    assertThat(hub.bytesSent()).isLessThan((long) (weights.length * 1.2));
    assertBlobIntact("test/cut");
  }

  @ParameterizedTest(name = "HTTP {0}")
  @ValueSource(ints = {500, 503})
  void serverErrorsAreRetriedUntilTheHubRecovers(int status) throws Exception {
    h.repo("test/5xx");
    hub.on(WEIGHTS, (req, n) -> n < 2 ? Answer.status(status) : Answer.normal());
    h.startHoist();

    JsonObject op = h.loadBesideHealthy("test/5xx");
    assertThat(op.getString("status")).as("logs %s", logs(op)).isEqualTo("completed");
    assertThat(logs(op)).contains("Retrying download model.safetensors").contains("HTTP " + status);
    assertThat(hub.seen(WEIGHTS)).hasSize(3);
    assertBlobIntact("test/5xx");
  }

  @Test
  void serverErrorsThatDoNotStopFailTheOperationAfterTheRetries() throws Exception {
    h.repo("test/down");
    hub.on(WEIGHTS, (req, n) -> Answer.status(503));
    h.startHoist(new JsonObject().put("HOIST_DOWNLOAD_RETRIES", 2));

    JsonObject op = h.loadBesideHealthy("test/down");
    assertThat(op.getString("status")).isEqualTo("error");
    assertThat(op.getJsonObject("error").getString("code")).isEqualTo("hub_unreachable");
    assertThat(op.getJsonObject("error").getBoolean("retryable")).isTrue();
    assertThat(op.getString("message")).contains("model.safetensors").contains("3 attempts").contains("HTTP 503");
    assertThat(hub.seen(WEIGHTS)).hasSize(3);
  }

  @Test
  void a429WithRetryAfterIsWaitedForAsTheHubAsked() throws Exception {
    h.repo("test/busy");
    hub.on(WEIGHTS, (req, n) -> n == 0 ? Answer.status(429, "Retry-After", "1") : Answer.normal());
    h.startHoist();

    JsonObject op = h.loadBesideHealthy("test/busy");
    assertThat(op.getString("status")).as("logs %s", logs(op)).isEqualTo("completed");
    List<FaultHub.Seen> requests = hub.seen(WEIGHTS);
    assertThat(requests).hasSize(2);
    long waitedMs = (requests.get(1).atNanos - requests.get(0).atNanos) / 1_000_000;
    assertThat(waitedMs).as("the retry waited for Retry-After: 1 (the base backoff is 20 ms)").isBetween(950L, 5_000L);
    assertThat(logs(op)).contains("Retrying download model.safetensors in 1.0 s").contains("HTTP 429").contains("Retry-After: 1");
    assertBlobIntact("test/busy");
  }

  @Test
  void aHubThatIgnoresRangeGetsTheFileStartedOverCleanly() throws Exception {
    h.repo("test/norange");
    // What is on disk is not even this file's prefix: a resume would produce a corrupt blob.
    Path part = h.blob("test/norange", weightsSha256 + ".incomplete");
    Files.createDirectories(part.getParent());
    Files.write(part, new byte[weights.length / 3]);
    hub.on(WEIGHTS, (req, n) -> Answer.normal().ignoreRange());
    h.startHoist();

    JsonObject op = h.loadBesideHealthy("test/norange");
    assertThat(op.getString("status")).as("logs %s", logs(op)).isEqualTo("completed");
    assertThat(logs(op)).contains("ignored the Range request for model.safetensors").contains("starting the file over");
    assertThat(hub.seen(WEIGHTS)).hasSize(1);
    assertThat(hub.seen(WEIGHTS).get(0).range).isEqualTo("bytes=" + weights.length / 3 + "-");
    assertThat(hub.bytesSent(WEIGHTS)).isEqualTo(weights.length);
    assertBlobIntact("test/norange");
  }

  @Test
  void aWrongContentRangeFailsWithAClearErrorAndKeepsNothingUnverified() throws Exception {
    h.repo("test/badrange");
    Path part = h.blob("test/badrange", weightsSha256 + ".incomplete");
    Files.createDirectories(part.getParent());
    int half = weights.length / 2;
    Files.write(part, Arrays.copyOf(weights, half));
    hub.on(WEIGHTS, (req, n) -> Answer.normal().contentRange("bytes 0-" + (weights.length - half - 1) + "/" + weights.length));
    h.startHoist();

    JsonObject op = h.loadBesideHealthy("test/badrange");
    assertThat(op.getString("status")).isEqualTo("error");
    assertThat(op.getJsonObject("error").getString("code")).isEqualTo("hub_error");
    assertThat(op.getString("message")).contains("model.safetensors").contains("wrong range").contains("Content-Range")
        .contains("bytes " + half + "-");
    assertThat(hub.seen(WEIGHTS)).as("a clear answer is not retried").hasSize(1);
    assertThat(logs(op)).doesNotContain("Retrying");
    assertThat(Files.exists(h.blob("test/badrange", weightsSha256))).isFalse();
    assertThat(Files.size(part)).as("the verified-so-far prefix stays for a later resume").isEqualTo(half);
  }

  @ParameterizedTest(name = "listed {0} bytes off")
  @ValueSource(ints = {1000, -1000})
  void aHubListingAWrongSizeFailsWithAClearError(int delta) throws Exception {
    h.repo("test/size");
    hub.rewriteTree(tree -> {
      for (int i = 0; i < tree.size(); i++) {
        JsonObject e = tree.getJsonObject(i);
        if (e.getString("path").equals(WEIGHTS)) {
          e.put("size", weights.length + delta);
          e.getJsonObject("lfs").put("size", weights.length + delta);
        }
      }
      return tree;
    });
    h.startHoist();

    JsonObject op = h.loadBesideHealthy("test/size");
    assertThat(op.getString("status")).isEqualTo("error");
    assertThat(op.getJsonObject("error").getString("code")).isEqualTo("hub_error");
    assertThat(op.getString("message")).contains("model.safetensors").contains("listed").contains(String.valueOf(weights.length + delta))
        .contains("serves " + weights.length);
    assertThat(hub.seen(WEIGHTS)).hasSize(1);
    assertThat(Files.exists(h.blob("test/size", weightsSha256))).isFalse();
  }

  @Test
  void aCorruptedBodyIsDiscardedRefetchedOnceThenFailsWithAChecksumError() throws Exception {
    h.repo("test/garbled");
    hub.on(WEIGHTS, (req, n) -> Answer.normal().corrupt());
    h.startHoist();

    JsonObject op = h.loadBesideHealthy("test/garbled");
    assertThat(op.getString("status")).isEqualTo("error");
    assertThat(op.getJsonObject("error").getString("code")).isEqualTo("checksum_mismatch");
    assertThat(op.getString("message")).contains("model.safetensors").contains(weightsSha256);
    assertThat(hub.seen(WEIGHTS)).hasSize(2);
    try (Stream<Path> files = Files.list(h.repoDir("test/garbled").resolve("blobs"))) {
      assertThat(files.map(p -> p.getFileName().toString())).noneMatch(n -> n.startsWith(weightsSha256));
    }
  }

  @Test
  void aBodyCorruptedOnceIsRefetchedAndCompletes() throws Exception {
    h.repo("test/flaky");
    hub.on(WEIGHTS, (req, n) -> n == 0 ? Answer.normal().corrupt() : Answer.normal());
    h.startHoist();

    JsonObject op = h.loadBesideHealthy("test/flaky");
    assertThat(op.getString("status")).as("logs %s", logs(op)).isEqualTo("completed");
    assertThat(logs(op)).contains("checksum mismatch for model.safetensors").contains("fetching it once more");
    assertThat(hub.seen(WEIGHTS)).hasSize(2);
    assertBlobIntact("test/flaky");
  }

  @Test
  void anUnknownRepoFailsAtOnceWithModelNotFound() throws Exception {
    h.startHoist();
    JsonObject op = h.loadBesideHealthy("test/absent");
    assertThat(op.getString("status")).isEqualTo("error");
    assertThat(op.getJsonObject("error").getString("code")).isEqualTo("model_not_found");
    assertThat(op.getString("message")).contains("test/absent");
    assertThat(logs(op)).doesNotContain("Retrying");
  }

  @Test
  void aModelAlreadyInTheCacheIsNotFetchedAgain() throws Exception {
    h.repo("test/cached").startHoist();
    assertThat(h.loadAndWait("test/cached").getString("status")).isEqualTo("completed");
    long afterFirst = hub.bytesSent();
    JsonObject second = h.loadAndWait("test/cached");
    assertThat(second.getString("status")).isEqualTo("completed");
    assertThat(hub.bytesSent()).isEqualTo(afterFirst);
    assertThat(logs(second)).contains("already in the cache").contains("already loaded");
  }

  @Test
  void theManifestWithSizesAndTheCommitIsReportedBeforeAnyByteMoves() throws Exception {
    h.repo("test/manifest").startHoist();

    String id = h.start("test/manifest");
    JsonObject op = h.finish(id);
    assertThat(op.getString("status")).isEqualTo("completed");
    JsonObject manifest = h.updates(id).stream()
        .filter(u -> u.getJsonArray("files") != null && !u.getJsonArray("files").isEmpty())
        .findFirst().orElseThrow();
    assertThat(manifest.getString("commit")).matches("[0-9a-f]{40}");
    assertThat(manifest.getJsonObject("stage").getLong("bytes_done")).isZero();
    JsonArray files = manifest.getJsonArray("files");
    assertThat(files.stream().map(f -> ((JsonObject) f).getString("path"))).containsExactly("config.json", WEIGHTS);
    assertThat(files.getJsonObject(1).getLong("size")).isEqualTo(weights.length);
    assertThat(files.getJsonObject(1).getString("sha256")).isEqualTo(weightsSha256);
  }

  private void assertBlobIntact(String repo) throws Exception {
    Path blob = h.blob(repo, weightsSha256);
    assertThat(sha256(Files.readAllBytes(blob))).isEqualTo(weightsSha256);
    assertThat(Files.exists(blob.resolveSibling(weightsSha256 + ".incomplete"))).isFalse();
  }
}
