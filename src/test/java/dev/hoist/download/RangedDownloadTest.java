package dev.hoist.download;

import static dev.hoist.download.DownloadHarness.WEIGHTS;
import static dev.hoist.download.DownloadHarness.logs;
import static dev.hoist.download.DownloadHarness.sha256;
import static dev.hoist.support.TestSupport.await;
import static dev.hoist.support.TestSupport.waitUntil;
import static org.assertj.core.api.Assertions.assertThat;

import dev.hoist.HoistConfig;
import dev.hoist.support.FaultHub;
import dev.hoist.support.FaultHub.Answer;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Large files in ranges over several connections: verified, resumable from the ranged state on disk
 * (after a graceful stop or a crash), and falling back to one stream when the hub ignores Range.
 * The chunk size is made small so that an 8 MiB file is a large one.
 */
class RangedDownloadTest {

  private static final int CHUNK = 1 << 20;

  @TempDir
  Path dataDir;
  @TempDir
  Path hubDir;
  private Vertx vertx;
  private DownloadHarness h;
  private FaultHub hub;
  private byte[] weights;
  private String sha;
  /** About 8 MiB: 8 full ranges and a short ninth one. */
  private int size;
  private int rangeCount;

  @BeforeEach
  void setUp() throws Exception {
    vertx = Vertx.vertx();
    h = new DownloadHarness(vertx, dataDir, hubDir);
    hub = h.startHub();
    weights = DownloadHarness.weights(8 << 20, 11);
    sha = sha256(weights);
    size = weights.length;
    rangeCount = (size + CHUNK - 1) / CHUNK;
    h.repo("test/big", weights);
  }

  @AfterEach
  void tearDown() throws Exception {
    try {
      h.assertCacheIntact();
    } finally {
      await(vertx.close());
    }
  }

  private JsonObject ranged() {
    return new JsonObject().put(HoistConfig.DOWNLOAD_CHUNK_BYTES, CHUNK).put(HoistConfig.DOWNLOAD_CONNECTIONS_PER_FILE, 4);
  }

  @Test
  void aFileLargerThanOneChunkIsFetchedInParallelRangesAndVerified() throws Exception {
    // Each connection is slow, so the parallelism shows; together they are four times as fast.
    hub.on(WEIGHTS, (req, n) -> Answer.normal().rate(6L << 20));
    h.startHoist(ranged());

    String id = h.start("test/big");
    JsonObject op = h.finish(id);
    assertThat(op.getString("status")).as("logs %s", logs(op)).isEqualTo("completed");
    assertThat(sha256(Files.readAllBytes(h.blob("test/big", sha)))).isEqualTo(sha);
    assertThat(logs(op)).contains("Fetching model.safetensors (8.0 MiB) in " + rangeCount + " ranges over up to 4 connections");

    List<FaultHub.Seen> requests = hub.seen(WEIGHTS);
    assertThat(requests.get(0).range).as("the first request probes with the first range").isEqualTo("bytes=0-" + (CHUNK - 1));
    Set<String> ranges = requests.stream().map(r -> r.range).collect(Collectors.toCollection(TreeSet::new));
    for (int i = 0; i < rangeCount; i++) {
      assertThat(ranges).contains("bytes=" + (long) i * CHUNK + "-" + (Math.min(size, (long) (i + 1) * CHUNK) - 1));
    }
    assertThat(requests).hasSize(rangeCount);
    assertThat(hub.maxParallel()).as("ranges were fetched at once").isGreaterThanOrEqualTo(3);
    assertThat(hub.bytesSent(WEIGHTS)).isEqualTo(size);

    // One progress figure over all connections, never going back.
    List<Long> done = h.updates(id).stream().map(u -> u.getJsonObject("stage"))
        .filter(s -> "downloading".equals(s.getString("name"))).map(s -> s.getLong("bytes_done")).toList();
    assertThat(done).isSorted();
    assertThat(done.get(done.size() - 1)).isEqualTo((long) size + DownloadHarness.CONFIG.length());
    assertThat(Files.exists(h.blob("test/big", sha + ".ranged.parts"))).isFalse();
    assertThat(Files.exists(h.blob("test/big", sha + ".ranged"))).isFalse();
  }

  @Test
  void aFirstConnectionFastEnoughByItselfIsNotJoinedByMore() throws Exception {
    h.startHoist(ranged().put(HoistConfig.DOWNLOAD_SPLIT_BELOW_BYTES_PER_SECOND, 2_000_000));

    JsonObject op = h.loadAndWait("test/big");
    assertThat(op.getString("status")).as("logs %s", logs(op)).isEqualTo("completed");
    assertThat(sha256(Files.readAllBytes(h.blob("test/big", sha)))).isEqualTo(sha);
    assertThat(logs(op)).contains("of model.safetensors (at least 1.9 MiB/s): fetching the rest over it alone");
    assertThat(hub.maxParallel()).as("one connection at a time").isEqualTo(1);
    // The first range (the probe), then one request for all the rest: no stop at every range's end.
    assertThat(hub.seen(WEIGHTS)).extracting(r -> r.range)
        .containsExactly("bytes=0-" + (CHUNK - 1), "bytes=" + CHUNK + "-" + (size - 1));
    assertThat(hub.bytesSent(WEIGHTS)).isEqualTo(size);
  }

  @Test
  void aRequestForSeveralRangesThatIsCutResumesWhereItsBytesEnded() throws Exception {
    int cut = 2 * CHUNK + CHUNK / 2; // two and a half ranges into the request for the rest
    hub.on(WEIGHTS, (req, n) -> n == 1 ? Answer.normal().cutAfter(cut) : Answer.normal());
    h.startHoist(ranged().put(HoistConfig.DOWNLOAD_SPLIT_BELOW_BYTES_PER_SECOND, 2_000_000));

    JsonObject op = h.loadAndWait("test/big");
    assertThat(op.getString("status")).as("logs %s", logs(op)).isEqualTo("completed");
    assertThat(sha256(Files.readAllBytes(h.blob("test/big", sha)))).isEqualTo(sha);
    assertThat(hub.seen(WEIGHTS)).extracting(r -> r.range).containsExactly("bytes=0-" + (CHUNK - 1),
        "bytes=" + CHUNK + "-" + (size - 1), "bytes=" + (CHUNK + cut) + "-" + (size - 1));
    assertThat(hub.bytesSent(WEIGHTS)).as("nothing fetched twice").isEqualTo(size);
  }

  @Test
  void aSlowFirstConnectionIsJoinedByMoreForTheOtherRanges() throws Exception {
    hub.on(WEIGHTS, (req, n) -> Answer.normal().rate(1L << 20));
    h.startHoist(ranged().put(HoistConfig.DOWNLOAD_SPLIT_BELOW_BYTES_PER_SECOND, 2_000_000));

    JsonObject op = h.loadAndWait("test/big");
    assertThat(op.getString("status")).as("logs %s", logs(op)).isEqualTo("completed");
    assertThat(logs(op)).contains("of model.safetensors (less than 1.9 MiB/s): opening up to 3 more for its ranges");
    assertThat(hub.maxParallel()).isGreaterThanOrEqualTo(3);
    assertThat(sha256(Files.readAllBytes(h.blob("test/big", sha)))).isEqualTo(sha);
  }

  @Test
  void aHubThatIgnoresRangeGetsALargeFileAsOneStream() throws Exception {
    hub.on(WEIGHTS, (req, n) -> Answer.normal().ignoreRange());
    h.startHoist(ranged());

    JsonObject op = h.loadAndWait("test/big");
    assertThat(op.getString("status")).as("logs %s", logs(op)).isEqualTo("completed");
    assertThat(logs(op)).contains("ignored the Range request for model.safetensors");
    assertThat(hub.seen(WEIGHTS)).hasSize(1);
    assertThat(hub.bytesSent(WEIGHTS)).isEqualTo(size);
    assertThat(sha256(Files.readAllBytes(h.blob("test/big", sha)))).isEqualTo(sha);
  }

  @Test
  void aRangeCutMidwayIsResumedFromItsOwnBytes() throws Exception {
    String third = "bytes=" + 2L * CHUNK + "-" + (3L * CHUNK - 1);
    hub.on(WEIGHTS, (req, n) -> third.equals(req.range) ? Answer.normal().cutAfter(300_000) : Answer.normal());
    h.startHoist(ranged());

    JsonObject op = h.loadBesideHealthy("test/big");
    assertThat(op.getString("status")).as("logs %s", logs(op)).isEqualTo("completed");
    List<String> resumed = hub.seen(WEIGHTS).stream().map(r -> r.range)
        .filter(r -> r.startsWith("bytes=2") && r.endsWith("-" + (3L * CHUNK - 1)) && !r.equals(third)).toList();
    assertThat(resumed).as("the cut range resumes from where it stopped, alone").hasSize(1);
    long from = Long.parseLong(resumed.get(0).replaceAll("bytes=(\\d+)-.*", "$1"));
    assertThat(from).isGreaterThan(2L * CHUNK).isLessThanOrEqualTo(2L * CHUNK + 300_000);
    assertThat(hub.bytesSent(WEIGHTS)).isLessThan((long) (size * 1.1));
    assertThat(sha256(Files.readAllBytes(h.blob("test/big", sha)))).isEqualTo(sha);
  }

  @ParameterizedTest(name = "chunk of {0} bytes")
  @ValueSource(ints = {CHUNK, 64 << 20})
  void aDownloadStoppedMidwayResumesAfterARestartWithoutFetchingItAgain(int chunk) throws Exception {
    // About 4 MiB/s in all, one connection or four: two seconds for the file.
    long perConnection = chunk < size ? 1L << 20 : 4L << 20;
    hub.on(WEIGHTS, (req, n) -> Answer.normal().rate(perConnection));
    h.startHoist(ranged().put(HoistConfig.DOWNLOAD_CHUNK_BYTES, chunk));

    String first = h.start("test/big");
    waitUntil(Duration.ofSeconds(30), () -> h.get(first).getJsonObject("stage").getLong("bytes_done") > size * 0.4);
    h.stopHoist();
    long sentBefore = hub.bytesSent(WEIGHTS);
    assertThat(sentBefore).isLessThan(size);
    boolean ranged = chunk < size;
    Path partial = h.blob("test/big", sha + (ranged ? ".ranged" : ".incomplete"));
    assertThat(partial).exists();
    if (ranged) {
      JsonObject parts = new JsonObject(Files.readString(h.blob("test/big", sha + ".ranged.parts")));
      long saved = parts.getJsonArray("ranges").stream().mapToLong(r -> ((JsonArray) r).getLong(2)).sum();
      assertThat(saved).as("the sidecar was saved when the stage stopped").isGreaterThan((long) (size * 0.3));
    }

    h.startHoist(ranged().put(HoistConfig.DOWNLOAD_CHUNK_BYTES, chunk));
    JsonObject op = h.loadAndWait("test/big");
    assertThat(op.getString("status")).as("logs %s", logs(op)).isEqualTo("completed");
    assertThat(logs(op)).contains("Resuming model.safetensors");
    assertThat(hub.bytesSent(WEIGHTS)).as("the hub sent the file about once in all").isLessThan((long) (size * 1.2));
    assertThat(sha256(Files.readAllBytes(h.blob("test/big", sha)))).isEqualTo(sha);
  }

  @Test
  void aRangedStateLeftByACrashTellsWhichRangesAreDone() throws Exception {
    // As a crashed Hoist leaves it: range 0 complete, range 1 half done, range 2 done, the rest not started.
    Path data = h.blob("test/big", sha + ".ranged");
    Files.createDirectories(data.getParent());
    byte[] onDisk = new byte[3 * CHUNK];
    System.arraycopy(weights, 0, onDisk, 0, CHUNK + CHUNK / 2);
    System.arraycopy(weights, 2 * CHUNK, onDisk, 2 * CHUNK, CHUNK);
    Arrays.fill(onDisk, CHUNK + CHUNK / 2, 2 * CHUNK, (byte) 0x5a); // garbage past what the sidecar vouches for
    Files.write(data, onDisk);
    JsonArray ranges = new JsonArray();
    for (int i = 0; i < rangeCount; i++) {
      long done = i == 0 || i == 2 ? CHUNK : i == 1 ? CHUNK / 2 : 0;
      ranges.add(new JsonArray().add((long) i * CHUNK).add(Math.min(size, (long) (i + 1) * CHUNK)).add(done));
    }
    Files.writeString(h.blob("test/big", sha + ".ranged.parts"), new JsonObject().put("version", 1).put("etag", sha)
        .put("size", size).put("ranges", ranges).encode(), StandardCharsets.UTF_8);
    h.startHoist(ranged());

    JsonObject op = h.loadAndWait("test/big");
    assertThat(op.getString("status")).as("logs %s", logs(op)).isEqualTo("completed");
    Set<String> asked = hub.seen(WEIGHTS).stream().map(r -> r.range).collect(Collectors.toSet());
    assertThat(asked).doesNotContain("bytes=0-" + (CHUNK - 1), "bytes=" + 2 * CHUNK + "-" + (3 * CHUNK - 1))
        .contains("bytes=" + (CHUNK + CHUNK / 2) + "-" + (2 * CHUNK - 1));
    assertThat(hub.bytesSent(WEIGHTS)).isEqualTo(size - 2L * CHUNK - CHUNK / 2);
    assertThat(logs(op)).contains("Resuming model.safetensors: 2.5 MiB of 8.0 MiB already on disk");
    assertThat(sha256(Files.readAllBytes(h.blob("test/big", sha)))).isEqualTo(sha);
  }
}
