package dev.hoist.download;

import static dev.hoist.support.TestSupport.await;
import static dev.hoist.support.TestSupport.waitUntil;
import static org.assertj.core.api.Assertions.assertThat;

import dev.hoist.Hoist;
import dev.hoist.HoistConfig;
import dev.hoist.format.DataSource;
import dev.hoist.format.SafetensorsDtype;
import dev.hoist.format.SafetensorsWriter;
import dev.hoist.support.FaultHub;
import io.vertx.core.Vertx;
import io.vertx.core.eventbus.MessageConsumer;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.client.WebClient;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.stream.Stream;

/**
 * Hoist against a {@link FaultHub} for the download tests: writes test repos, starts and stops
 * Hoist on a data dir, starts loads over real HTTP, records every update the registry publishes, and
 * checks the cache afterwards.
 */
final class DownloadHarness {

  static final String WEIGHTS = "model.safetensors";
  static final String CONFIG = "{\"model_type\":\"llama\",\"max_position_embeddings\":2048}";
  private static byte[] defaultWeights;
  private static byte[] healthyWeights;
  private int healthyCount;

  final Vertx vertx;
  final Path dataDir;
  final Path hubDir;
  final WebClient http;
  FaultHub hub;
  Hoist.Deployment hoist;
  private MessageConsumer<JsonObject> consumer;
  private final Map<String, List<JsonObject>> updates = new ConcurrentHashMap<>();

  DownloadHarness(Vertx vertx, Path dataDir, Path hubDir) {
    this.vertx = vertx;
    this.dataDir = dataDir;
    this.hubDir = hubDir;
    this.http = WebClient.create(vertx);
  }

  /** The weights of {@link #repo(String)}: 2 MiB of valid safetensors, small enough to keep tests fast. */
  static synchronized byte[] defaultWeights() throws IOException {
    if (defaultWeights == null) {
      defaultWeights = weights(2 << 20, 7);
    }
    return defaultWeights;
  }

  /** The weights of every healthy model run beside a fault: 1 MiB, unlike any faulty model's, so no transfer is shared. */
  static synchronized byte[] healthyWeights() throws IOException {
    if (healthyWeights == null) {
      healthyWeights = weights(1 << 20, 4242);
    }
    return healthyWeights;
  }

  /** Valid safetensors of about {@code bytes} bytes (one F32 tensor), different for each seed. */
  static byte[] weights(int bytes, long seed) throws IOException {
    return weights(bytes, seed, "w");
  }

  static byte[] weights(int bytes, long seed, String tensor) throws IOException {
    Path tmp = Files.createTempFile("hoist-weights", ".safetensors");
    try {
      new SafetensorsWriter().tensor(tensor, SafetensorsDtype.F32, bytes / 4).write(tmp, DataSource.random(seed));
      return Files.readAllBytes(tmp);
    } finally {
      Files.deleteIfExists(tmp);
    }
  }

  /** A repo with config.json, model.safetensors ({@link #defaultWeights()}) and a README that is not selected. */
  DownloadHarness repo(String repo) throws IOException {
    return repo(repo, defaultWeights());
  }

  DownloadHarness repo(String repo, byte[] weights) throws IOException {
    Path dir = hubDir.resolve(repo);
    Files.createDirectories(dir);
    Files.writeString(dir.resolve("config.json"), CONFIG);
    Files.write(dir.resolve(WEIGHTS), weights);
    Files.writeString(dir.resolve("README.md"), "not selected: only weights, config and tokenizer files are fetched");
    return this;
  }

  /** A repo of {@code shards} safetensors shards of about {@code bytes} each, with their index and config.json. */
  DownloadHarness shardedRepo(String repo, int shards, int bytes) throws IOException {
    Path dir = hubDir.resolve(repo);
    Files.createDirectories(dir);
    Files.writeString(dir.resolve("config.json"), CONFIG);
    JsonObject weightMap = new JsonObject();
    for (int i = 1; i <= shards; i++) {
      String name = String.format("model-%05d-of-%05d.safetensors", i, shards);
      Files.write(dir.resolve(name), weights(bytes, i, "w" + i));
      weightMap.put("w" + i, name);
    }
    Files.writeString(dir.resolve("model.safetensors.index.json"), new JsonObject().put("weight_map", weightMap).encode());
    return this;
  }

  DownloadHarness file(String repo, String path, byte[] content) throws IOException {
    Path file = hubDir.resolve(repo).resolve(path);
    Files.createDirectories(file.getParent());
    Files.write(file, content);
    return this;
  }

  FaultHub startHub() {
    hub = await(FaultHub.start(vertx, hubDir));
    return hub;
  }

  /** Hoist on the data dir with the hub as HF_ENDPOINT; {@code overrides} are merged into the config. */
  Hoist.Deployment startHoist(JsonObject overrides) throws IOException {
    JsonObject config = config().mergeIn(overrides);
    if (consumer == null) {
      consumer = vertx.eventBus().consumer("hoist.ops.updates", m -> {
        JsonObject op = m.body();
        updates.computeIfAbsent(op.getString("operation_id"), k -> new CopyOnWriteArrayList<>()).add(op);
      });
      await(consumer.completion());
    }
    hoist = await(Hoist.deploy(vertx, config));
    return hoist;
  }

  /**
   * TestSupport's settings, minus the embedded mirror: these tests bring their own hub, so they
   * neither need nor wait for the demo models.
   */
  private JsonObject config() {
    return new JsonObject()
        .put(HoistConfig.DATA_DIR, dataDir.toString())
        .put(HoistConfig.HTTP_PORT, 0)
        .put(HoistConfig.HTTP_HOST, "127.0.0.1")
        .put(HoistConfig.HF_ENDPOINT, hub.endpoint())
        .put(HoistConfig.MIRROR_ENABLED, false)
        .put(HoistConfig.MIRROR_DEMO_MODELS, false)
        .put(HoistConfig.PROGRESS_INTERVAL_MS, 50)
        .put(HoistConfig.DOWNLOAD_RETRY_BASE_MS, 20)
        // Ranged tests want their ranges side by side even on fast loopback (RangedDownloadTest tests the default).
        .put(HoistConfig.DOWNLOAD_SPLIT_BELOW_BYTES_PER_SECOND, 0)
        .put(HoistConfig.MODELS_FILE, "conf/models.json")
        .put(HoistConfig.WEBROOT, "webroot");
  }

  Hoist.Deployment startHoist() throws IOException {
    return startHoist(new JsonObject());
  }

  void stopHoist() {
    await(hoist.undeploy());
  }

  /** Starts a load; {@code options} are the request's other fields (include, quantization, ...). */
  String start(String model, JsonObject options) {
    var started = await(http.post(hoist.httpPort(), "127.0.0.1", "/api/llm/load")
        .sendJsonObject(options.copy().put("model_name", model)));
    assertThat(started.statusCode()).as(started.bodyAsString()).isEqualTo(202);
    return started.bodyAsJsonObject().getString("operation_id");
  }

  String start(String model) {
    return start(model, new JsonObject());
  }

  JsonObject get(String id) {
    return await(http.get(hoist.httpPort(), "127.0.0.1", "/api/llm/progress/" + id).send()).bodyAsJsonObject();
  }

  /** Waits for the operation to complete or fail. */
  JsonObject finish(String id) throws InterruptedException {
    JsonObject[] last = new JsonObject[1];
    waitUntil(Duration.ofSeconds(45), () -> {
      last[0] = get(id);
      return last[0].getString("status").matches("completed|error|cancelled");
    });
    return last[0];
  }

  JsonObject loadAndWait(String model, JsonObject options) throws InterruptedException {
    return finish(start(model, options));
  }

  JsonObject loadAndWait(String model) throws InterruptedException {
    return loadAndWait(model, new JsonObject());
  }

  /**
   * A healthy model loaded while a fault is under way: a repo of its own that the hub {@linkplain
   * FaultHub#spare spares}, started now. {@link Healthy#assertUnharmed()} then proves the fault
   * stayed with its own operation.
   */
  Healthy healthyAlongside() throws IOException {
    String repo = "test/healthy-" + (++healthyCount);
    repo(repo, healthyWeights());
    hub.spare(repo);
    return new Healthy(repo, start(repo));
  }

  /**
   * Loads {@code model} (expected to meet a fault) with a healthy model loading at the same time;
   * returns the faulty operation once it has ended, after asserting the healthy one completed with
   * the right bytes.
   */
  JsonObject loadBesideHealthy(String model, JsonObject options) throws Exception {
    String id = start(model, options);
    Healthy healthy = healthyAlongside();
    JsonObject op = finish(id);
    healthy.assertUnharmed();
    return op;
  }

  JsonObject loadBesideHealthy(String model) throws Exception {
    return loadBesideHealthy(model, new JsonObject());
  }

  /** A healthy load started beside a fault. */
  final class Healthy {
    final String repo;
    final String id;

    Healthy(String repo, String id) {
      this.repo = repo;
      this.id = id;
    }

    /** Waits for it: completed, its weights in the snapshot byte for byte, its blob named by their sha256. */
    void assertUnharmed() throws Exception {
      JsonObject op = finish(id);
      assertThat(op.getString("status")).as("the healthy load of %s beside the fault: %s", repo, op.encode()).isEqualTo("completed");
      byte[] expected = healthyWeights();
      Path blob = blob(repo, sha256(expected));
      assertThat(Files.isRegularFile(blob)).as("blob %s", blob).isTrue();
      assertThat(sha256(Files.readAllBytes(blob))).isEqualTo(sha256(expected));
      Path snapshots = repoDir(repo).resolve("snapshots");
      try (Stream<Path> links = Files.walk(snapshots)) {
        List<Path> weights = links.filter(p -> p.getFileName().toString().equals(WEIGHTS)).toList();
        assertThat(weights).as("snapshot entries of %s", repo).hasSize(1);
        assertThat(Files.readAllBytes(weights.get(0))).isEqualTo(expected);
      }
    }
  }

  /** Every update the registry published for an operation, in order. */
  List<JsonObject> updates(String id) {
    return new ArrayList<>(updates.getOrDefault(id, List.of()));
  }

  static String logs(JsonObject op) {
    return op.getJsonArray("logs").encode();
  }

  /** Where the cache is: the data dir's hub/ unless a test moved it (HF_HUB_CACHE). */
  Path cacheDir;

  Path repoDir(String repo) {
    return (cacheDir != null ? cacheDir : dataDir.resolve("hub")).resolve("models--" + repo.replace("/", "--"));
  }

  Path blob(String repo, String etag) {
    return repoDir(repo).resolve("blobs").resolve(etag);
  }

  /**
   * The cache is sound: every file under a final blob name holds exactly the content its name is
   * the hash of (sha256, or git blob sha1), no partial file of a finished blob is left beside it, and
   * every snapshot entry is a relative link that resolves to a blob.
   */
  void assertCacheIntact() throws Exception {
    assertCacheIntact(dataDir.resolve("hub"));
  }

  /** {@link #assertCacheIntact()} for a cache elsewhere (HF_HUB_CACHE). */
  void assertCacheIntact(Path hub) throws Exception {
    if (!Files.isDirectory(hub)) {
      return;
    }
    try (Stream<Path> repos = Files.list(hub)) {
      for (Path repo : repos.filter(p -> p.getFileName().toString().startsWith("models--")).toList()) {
        Path blobs = repo.resolve("blobs");
        if (Files.isDirectory(blobs)) {
          try (Stream<Path> files = Files.list(blobs)) {
            for (Path f : files.toList()) {
              String name = f.getFileName().toString();
              if (name.matches("[0-9a-f]{64}")) {
                assertThat(sha256(Files.readAllBytes(f))).as("blob %s", f).isEqualTo(name);
              } else if (name.matches("[0-9a-f]{40}")) {
                assertThat(gitSha1(Files.readAllBytes(f))).as("blob %s", f).isEqualTo(name);
              } else {
                String etag = name.replaceFirst("\\..*", "");
                assertThat(name).as("a partial file in %s", blobs).matches("[0-9a-f]{40,64}\\.(incomplete|ranged|ranged\\.parts)");
                assertThat(Files.exists(blobs.resolve(etag))).as("%s left beside its finished blob", name).isFalse();
              }
            }
          }
        }
        Path snapshots = repo.resolve("snapshots");
        if (Files.isDirectory(snapshots)) {
          try (Stream<Path> entries = Files.walk(snapshots)) {
            for (Path e : entries.filter(p -> !Files.isDirectory(p)).toList()) {
              assertThat(Files.isSymbolicLink(e)).as("%s is a link", e).isTrue();
              Path target = Files.readSymbolicLink(e);
              assertThat(target.isAbsolute()).as("%s links relatively", e).isFalse();
              assertThat(e.getParent().resolve(target).normalize().getParent()).isEqualTo(blobs);
              assertThat(Files.isRegularFile(e)).as("%s resolves", e).isTrue();
            }
          }
        }
      }
    }
  }

  static String sha256(byte[] bytes) throws Exception {
    return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
  }

  static String gitSha1(byte[] bytes) throws Exception {
    MessageDigest sha1 = MessageDigest.getInstance("SHA-1");
    sha1.update(("blob " + bytes.length + "\0").getBytes(StandardCharsets.US_ASCII));
    return HexFormat.of().formatHex(sha1.digest(bytes));
  }
}
