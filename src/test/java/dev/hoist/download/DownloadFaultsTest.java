package dev.hoist.download;

import static dev.hoist.support.TestSupport.await;
import static dev.hoist.support.TestSupport.waitUntil;
import static org.assertj.core.api.Assertions.assertThat;

import dev.hoist.Hoist;
import dev.hoist.HoistConfig;
import dev.hoist.support.TestHub;
import dev.hoist.support.TestSupport;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.RoutingContext;
import io.vertx.ext.web.client.WebClient;
import io.vertx.junit5.VertxExtension;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.HexFormat;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * The download and load stages against a hub that misbehaves: a real HTTP server on 127.0.0.1
 * serving test repos, with faults injected in front of it.
 */
@ExtendWith(VertxExtension.class)
class DownloadFaultsTest {

  @TempDir
  Path dataDir;
  @TempDir
  Path hubDir;
  private Vertx vertx;
  private WebClient http;
  private TestHub hub;
  private Hoist.Deployment hoist;
  private byte[] weights;
  private String weightsSha256;

  @BeforeEach
  void setUp() throws Exception {
    vertx = Vertx.vertx();
    http = WebClient.create(vertx);
    weights = Files.readAllBytes(TestSupport.sharedMirror().resolve("hoist/demo-tiny/model.safetensors"));
    weightsSha256 = sha256(weights);
  }

  @AfterEach
  void tearDown() {
    await(vertx.close());
  }

  private void startHoist(RoutingHandler fault) throws IOException {
    hub = await(TestHub.start(vertx, hubDir, fault == null ? null : fault::handle));
    JsonObject config = TestSupport.config(dataDir).put(HoistConfig.HF_ENDPOINT, hub.endpoint());
    hoist = await(Hoist.deploy(vertx, config));
  }

  private interface RoutingHandler {
    void handle(RoutingContext ctx);
  }

  private void repo(String repo, byte[] model) throws IOException {
    Path dir = hubDir.resolve(repo);
    Files.createDirectories(dir);
    Files.writeString(dir.resolve("config.json"), "{\"model_type\":\"llama\",\"max_position_embeddings\":2048}");
    Files.write(dir.resolve("model.safetensors"), model);
    Files.writeString(dir.resolve("README.md"), "not selected: only weights, config and tokenizer files are fetched");
  }

  private JsonObject loadAndWait(String model) throws Exception {
    var started = await(http.post(hoist.httpPort(), "127.0.0.1", "/api/llm/load")
        .sendJsonObject(new JsonObject().put("model_name", model)));
    assertThat(started.statusCode()).as(started.bodyAsString()).isEqualTo(202);
    String id = started.bodyAsJsonObject().getString("operation_id");
    JsonObject[] last = new JsonObject[1];
    waitUntil(Duration.ofSeconds(60), () -> {
      last[0] = await(http.get(hoist.httpPort(), "127.0.0.1", "/api/llm/progress/" + id).send()).bodyAsJsonObject();
      return last[0].getString("status").matches("completed|error");
    });
    return last[0];
  }

  @Test
  void aCorruptedSafetensorsHeaderFailsTheOperationNamingTheFile() throws Exception {
    String header = "{\"w\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,999]}}";
    ByteBuffer file = ByteBuffer.allocate(8 + header.length() + 16).order(ByteOrder.LITTLE_ENDIAN);
    file.putLong(header.length()).put(header.getBytes(StandardCharsets.UTF_8));
    repo("test/corrupt", file.array());
    startHoist(null);

    JsonObject op = loadAndWait("test/corrupt");
    assertThat(op.getString("status")).isEqualTo("error");
    assertThat(op.getString("message")).contains("model.safetensors").contains("'w'");
    assertThat(op.getJsonObject("error").getString("code")).isEqualTo("invalid_model_file");
    assertThat(op.getJsonObject("error").getBoolean("retryable")).isFalse();
    assertThat(op.getInteger("progress")).isBetween(60, 84);
    assertThat(op.getJsonArray("logs").getString(op.getJsonArray("logs").size() - 1)).contains("ERROR").contains("model.safetensors");
  }

  @Test
  void aPartialFileOnDiskIsResumedNotFetchedAgain() throws Exception {
    repo("test/resume", weights);
    Path part = dataDir.resolve("hub/models--test--resume/blobs/" + weightsSha256 + ".incomplete");
    Files.createDirectories(part.getParent());
    int half = weights.length / 2;
    Files.write(part, java.util.Arrays.copyOf(weights, half));
    startHoist(null);

    JsonObject op = loadAndWait("test/resume");
    assertThat(op.getString("status")).as("logs %s", op.getJsonArray("logs")).isEqualTo("completed");
    assertThat(op.getJsonArray("logs").encode()).contains("Resuming model.safetensors");
    assertThat(hub.requestedBytes()).isLessThan(weights.length - half + 10_000L);
    assertBlobIntact("test/resume");
    assertThat(op.getJsonArray("logs").encode()).doesNotContain("README.md");
  }

  @Test
  void aConnectionCutHalfwayIsRetriedAndResumedFromTheBytesOnDisk() throws Exception {
    repo("test/cut", weights);
    AtomicInteger cuts = new AtomicInteger();
    startHoist(ctx -> {
      if (ctx.request().path().endsWith("/model.safetensors") && cuts.getAndIncrement() == 0) {
        ctx.response().putHeader("Content-Length", String.valueOf(weights.length)).setStatusCode(200);
        ctx.response().write(Buffer.buffer(java.util.Arrays.copyOf(weights, weights.length / 2)))
            .onComplete(v -> vertx.setTimer(50, t -> ctx.request().connection().close()));
      } else {
        ctx.next();
      }
    });

    JsonObject op = loadAndWait("test/cut");
    assertThat(op.getString("status")).as("logs %s", op.getJsonArray("logs")).isEqualTo("completed");
    assertThat(op.getJsonArray("logs").encode()).contains("Retrying download model.safetensors").contains("Resuming model.safetensors");
    assertThat(hub.requestedBytes()).isLessThan((long) (weights.length * 1.2));
    assertBlobIntact("test/cut");
  }

  @Test
  void aCorruptedBodyIsDiscardedRefetchedOnceThenFailsWithAChecksumError() throws Exception {
    repo("test/garbled", weights);
    AtomicInteger served = new AtomicInteger();
    startHoist(ctx -> {
      if (ctx.request().path().endsWith("/model.safetensors")) {
        served.incrementAndGet();
        byte[] garbled = weights.clone();
        garbled[garbled.length / 2] ^= 0x55;
        ctx.response().putHeader("Content-Type", "application/octet-stream").end(Buffer.buffer(garbled));
      } else {
        ctx.next();
      }
    });

    JsonObject op = loadAndWait("test/garbled");
    assertThat(op.getString("status")).isEqualTo("error");
    assertThat(op.getJsonObject("error").getString("code")).isEqualTo("checksum_mismatch");
    assertThat(op.getString("message")).contains("model.safetensors").contains(weightsSha256);
    assertThat(served.get()).isEqualTo(2);
    Path blobs = dataDir.resolve("hub/models--test--garbled/blobs");
    try (Stream<Path> files = Files.list(blobs)) {
      assertThat(files.map(p -> p.getFileName().toString())).noneMatch(n -> n.startsWith(weightsSha256));
    }
  }

  @Test
  void anUnknownRepoFailsAtOnceWithModelNotFound() throws Exception {
    startHoist(null);
    JsonObject op = loadAndWait("test/absent");
    assertThat(op.getString("status")).isEqualTo("error");
    assertThat(op.getJsonObject("error").getString("code")).isEqualTo("model_not_found");
    assertThat(op.getString("message")).contains("test/absent");
    assertThat(op.getJsonArray("logs").encode()).doesNotContain("Retrying");
  }

  @Test
  void aModelAlreadyInTheCacheIsNotFetchedAgain() throws Exception {
    repo("test/cached", weights);
    startHoist(null);
    assertThat(loadAndWait("test/cached").getString("status")).isEqualTo("completed");
    long afterFirst = hub.requestedBytes();
    JsonObject second = loadAndWait("test/cached");
    assertThat(second.getString("status")).isEqualTo("completed");
    assertThat(hub.requestedBytes()).isEqualTo(afterFirst);
    assertThat(second.getJsonArray("logs").encode()).contains("already in the cache").contains("already loaded");
  }

  private void assertBlobIntact(String repo) throws Exception {
    Path blob = dataDir.resolve("hub/models--" + repo.replace("/", "--") + "/blobs/" + weightsSha256);
    assertThat(sha256(Files.readAllBytes(blob))).isEqualTo(weightsSha256);
    assertThat(Files.exists(blob.resolveSibling(weightsSha256 + ".incomplete"))).isFalse();
  }

  private static String sha256(byte[] bytes) throws Exception {
    return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
  }
}
