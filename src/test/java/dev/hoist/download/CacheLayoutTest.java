package dev.hoist.download;

import static dev.hoist.download.DownloadHarness.WEIGHTS;
import static dev.hoist.download.DownloadHarness.gitSha1;
import static dev.hoist.download.DownloadHarness.logs;
import static dev.hoist.download.DownloadHarness.sha256;
import static dev.hoist.support.TestSupport.await;
import static org.assertj.core.api.Assertions.assertThat;

import dev.hoist.support.FaultHub;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The cache is huggingface_hub's, byte for byte in its layout: what Hoist downloads other tools use
 * as is, and what they downloaded Hoist does not fetch again.
 */
class CacheLayoutTest {

  private static final String EXTRA = "{\"nested\":true}";

  @TempDir
  Path dataDir;
  @TempDir
  Path hubDir;
  private Vertx vertx;
  private DownloadHarness h;
  private FaultHub hub;
  private byte[] weights;

  @BeforeEach
  void setUp() throws Exception {
    vertx = Vertx.vertx();
    h = new DownloadHarness(vertx, dataDir, hubDir);
    hub = h.startHub();
    weights = DownloadHarness.defaultWeights();
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
  void afterADownloadTheLayoutIsExactlyHuggingFaceHubs() throws Exception {
    h.repo("test/layout").file("test/layout", "sub/extra.json", EXTRA.getBytes(StandardCharsets.UTF_8)).startHoist();

    JsonObject op = h.loadAndWait("test/layout",
        new JsonObject().put("include", new JsonArray().add("*.json").add("*.safetensors").add("sub/")));
    assertThat(op.getString("status")).as("logs %s", logs(op)).isEqualTo("completed");
    String commit = op.getString("commit");
    String weightsBlob = sha256(weights);
    String configBlob = gitSha1(DownloadHarness.CONFIG.getBytes(StandardCharsets.UTF_8));
    String extraBlob = gitSha1(EXTRA.getBytes(StandardCharsets.UTF_8));

    Path repo = h.repoDir("test/layout");
    assertThat(list(repo)).containsExactly("blobs", "refs", "snapshots");
    assertThat(list(repo.resolve("blobs"))).containsExactlyInAnyOrder(weightsBlob, configBlob, extraBlob);
    assertThat(list(repo.resolve("refs"))).containsExactly("main");
    assertThat(Files.readString(repo.resolve("refs/main"))).isEqualTo(commit);
    assertThat(list(repo.resolve("snapshots"))).containsExactly(commit);
    Map<String, String> links = new TreeMap<>();
    Path snapshot = repo.resolve("snapshots").resolve(commit);
    try (Stream<Path> walk = Files.walk(snapshot)) {
      for (Path p : walk.filter(p -> !Files.isDirectory(p)).toList()) {
        assertThat(Files.isSymbolicLink(p)).isTrue();
        links.put(snapshot.relativize(p).toString(), Files.readSymbolicLink(p).toString());
      }
    }
    assertThat(links).containsExactlyEntriesOf(new TreeMap<>(Map.of(
        "config.json", "../../blobs/" + configBlob,
        WEIGHTS, "../../blobs/" + weightsBlob,
        "sub/extra.json", "../../../blobs/" + extraBlob)));
    assertThat(Files.readAllBytes(snapshot.resolve(WEIGHTS))).isEqualTo(weights);
    // huggingface_hub keeps its locks beside the repos, as Hoist does.
    assertThat(list(dataDir.resolve("hub/.locks/models--test--layout"))).allMatch(n -> n.endsWith(".lock"));
  }

  @Test
  void aModelLaidOutByHuggingFaceHubIsNotFetchedAgain() throws Exception {
    h.repo("test/foreign").startHoist();
    String commit = await(h.http.getAbs(hub.endpoint() + "/api/models/test/foreign/revision/main").send())
        .bodyAsJsonObject().getString("sha");
    // What huggingface_hub's snapshot_download leaves: blobs by hash, relative links, the ref.
    Path repo = h.repoDir("test/foreign");
    String weightsBlob = sha256(weights);
    byte[] config = DownloadHarness.CONFIG.getBytes(StandardCharsets.UTF_8);
    String configBlob = gitSha1(config);
    Files.createDirectories(repo.resolve("blobs"));
    Files.write(repo.resolve("blobs").resolve(weightsBlob), weights);
    Files.write(repo.resolve("blobs").resolve(configBlob), config);
    Path snapshot = Files.createDirectories(repo.resolve("snapshots").resolve(commit));
    Files.createSymbolicLink(snapshot.resolve(WEIGHTS), Paths.get("../../blobs/" + weightsBlob));
    Files.createSymbolicLink(snapshot.resolve("config.json"), Paths.get("../../blobs/" + configBlob));
    Files.createDirectories(repo.resolve("refs"));
    Files.writeString(repo.resolve("refs/main"), commit);

    JsonObject op = h.loadAndWait("test/foreign");
    assertThat(op.getString("status")).as("logs %s", logs(op)).isEqualTo("completed");
    assertThat(hub.seen()).as("no file was fetched").isEmpty();
    assertThat(logs(op)).contains("model.safetensors (2.0 MiB) is already in the cache").contains("config.json (53 B) is already in the cache");
    assertThat(Files.readSymbolicLink(snapshot.resolve(WEIGHTS))).isEqualTo(Paths.get("../../blobs/" + weightsBlob));
    assertThat(Files.readString(repo.resolve("refs/main"))).isEqualTo(commit);
  }

  private static java.util.List<String> list(Path dir) throws Exception {
    try (Stream<Path> s = Files.list(dir)) {
      return s.map(p -> p.getFileName().toString()).sorted().collect(Collectors.toList());
    }
  }
}
