package dev.hoist.cluster;

import static dev.hoist.support.TestSupport.await;
import static dev.hoist.support.TestSupport.waitUntil;
import static org.assertj.core.api.Assertions.assertThat;

import dev.hoist.Hoist;
import dev.hoist.HoistConfig;
import dev.hoist.client.HoistClient;
import dev.hoist.client.LoadOptions;
import dev.hoist.client.Operation;
import dev.hoist.support.TestFleet;
import dev.hoist.support.TestSupport;
import io.vertx.core.Vertx;
import io.vertx.core.http.WebSocket;
import io.vertx.core.http.WebSocketClient;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.client.HttpResponse;
import io.vertx.ext.web.client.WebClient;
import io.vertx.core.buffer.Buffer;
import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * Three Hoist nodes on 127.0.0.1 forming one fleet over Hazelcast: a and c in this JVM, b in a JVM
 * of its own so that it can be killed with SIGKILL. Loads are asked of one node's gateway and run
 * on another; updates reach WebSocket subscribers on every node; a node that dies takes its
 * operations to a node-lost error within seconds, and they resume when it comes back.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class FleetTest {

  private Path dirA;
  private Path dirB;
  private Path dirC;

  private TestFleet fleet;
  private Vertx vertxA;
  private Vertx vertxC;
  private int portA;
  private int portC;
  private Process nodeB;
  private final Vertx client = Vertx.vertx();
  private WebClient http;
  /** Held for the whole class: a Vert.x 5 WebSocketClient that is garbage-collected closes its sockets (1000). */
  private WebSocketClient webSockets;

  @BeforeAll
  void startFleet() throws Exception {
    dirA = Files.createTempDirectory("hoist-node-a");
    dirB = Files.createTempDirectory("hoist-node-b");
    dirC = Files.createTempDirectory("hoist-node-c");
    fleet = new TestFleet(3);
    http = WebClient.create(client);
    webSockets = client.createWebSocketClient();
    // a and c may use 512 MB for models; b has no cap, so it has the most memory free.
    JsonObject configA = fleet.nodeConfig(0, "a", dirA).put(HoistConfig.MEMORY_LIMIT_MB, 512);
    JsonObject configC = fleet.nodeConfig(2, "c", dirC).put(HoistConfig.MEMORY_LIMIT_MB, 512);
    vertxA = await(Hoist.newClusteredVertx(new HoistConfig(configA)));
    portA = await(Hoist.deploy(vertxA, configA)).httpPort();
    vertxC = await(Hoist.newClusteredVertx(new HoistConfig(configC)));
    portC = await(Hoist.deploy(vertxC, configC)).httpPort();
    nodeB = launchB();
    waitUntil(Duration.ofSeconds(60), () -> upNodes(portA).size() == 3 && upNodes(portC).size() == 3);
  }

  @AfterAll
  void stopFleet() throws Exception {
    if (nodeB != null && nodeB.isAlive()) {
      nodeB.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
    }
    for (Vertx v : new Vertx[] {vertxC, vertxA}) {
      if (v != null) {
        try {
          v.close().toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
        } catch (Exception e) {
          // closing anyway
        }
      }
    }
    client.close();
    for (Path dir : new Path[] {dirA, dirB, dirC}) {
      TestSupport.deleteRecursively(dir);
    }
  }

  @Test
  @Order(1)
  void nodesListsEveryMemberWithItsResources() {
    JsonObject fleet = get(portA, "/api/llm/nodes").bodyAsJsonObject();
    assertThat(fleet.getString("self")).isEqualTo("a");
    assertThat(fleet.getBoolean("clustered")).isTrue();
    JsonArray nodes = fleet.getJsonArray("nodes");
    assertThat(nodes.stream().map(n -> ((JsonObject) n).getString("node"))).containsExactly("a", "b", "c");
    for (Object o : nodes) {
      JsonObject node = (JsonObject) o;
      assertThat(node.getString("status")).isEqualTo("up");
      assertThat(node.getJsonObject("resources").getLong("memory_available_bytes")).isPositive();
      assertThat(node.getJsonObject("resources").getLong("disk_free_bytes")).isPositive();
      assertThat(node.getJsonArray("loaded_models")).isNotNull();
    }
    assertThat(nodes.getJsonObject(0).getJsonObject("resources").getLong("memory_limit_bytes")).isEqualTo(512L << 20);
  }

  @Test
  @Order(2)
  void badTargetsAreRefusedAndNothingIsCreated() {
    HttpResponse<Buffer> unknown = post(portA, "/api/llm/load", new JsonObject().put("model_name", "demo-tiny").put("node", "zz"));
    assertThat(unknown.statusCode()).isEqualTo(400);
    assertThat(unknown.bodyAsJsonObject().getJsonObject("error").getString("message"))
        .isEqualTo("node: no node named 'zz' in the fleet; nodes: a, b, c");
    HttpResponse<Buffer> both = post(portA, "/api/llm/load", new JsonObject().put("model_name", "demo-tiny").put("node", "b")
        .put("nodes", "all"));
    assertThat(both.statusCode()).isEqualTo(400);
    HttpResponse<Buffer> badList = post(portA, "/api/llm/load", new JsonObject().put("model_name", "demo-tiny")
        .put("nodes", new JsonArray().add(7)));
    assertThat(badList.statusCode()).isEqualTo(400);
    assertThat(get(portA, "/api/llm/progress").bodyAsJsonObject().getJsonArray("operations")).isEmpty();
    assertThat(get(portC, "/api/llm/progress/00000000-0000-0000-0000-000000000000").statusCode()).isEqualTo(404);
  }

  @Test
  @Order(3)
  void loadOnBThroughAWatchedFromC() throws Exception {
    List<JsonObject> seenOnC = new CopyOnWriteArrayList<>();
    WebSocket ws = await(webSockets.connect(portC, "127.0.0.1", "/api/llm/ws"));
    ws.textMessageHandler(text -> seenOnC.add(new JsonObject(text)));
    ws.writeTextMessage(new JsonObject().put("type", "subscribe").put("operation_id", "*").encode());
    waitUntil(Duration.ofSeconds(10), () -> seenOnC.stream().anyMatch(m -> "subscribed".equals(m.getString("type"))));

    HttpResponse<Buffer> accepted = post(portA, "/api/llm/load", new JsonObject().put("model_name", "demo-tiny").put("node", "b"));
    assertThat(accepted.statusCode()).isEqualTo(202);
    String id = accepted.bodyAsJsonObject().getString("operation_id");
    assertThat(accepted.bodyAsJsonObject().getString("node")).isEqualTo("b");

    JsonObject done = waitForEnd(portA, id, Duration.ofSeconds(60));
    assertThat(done.getString("status")).as("logs %s", done.getJsonArray("logs")).isEqualTo("completed");
    assertThat(done.getString("node")).isEqualTo("b");
    // C's subscriber saw the whole run, in order, without a gap.
    waitUntil(Duration.ofSeconds(10), () -> updatesOf(seenOnC, id).stream().anyMatch(u -> "completed".equals(u.getString("status"))));
    List<JsonObject> updates = updatesOf(seenOnC, id);
    List<String> statuses = updates.stream().map(u -> u.getString("status")).distinct().toList();
    assertThat(statuses).containsSubsequence("initializing", "downloading", "loading", "completed");
    for (int i = 1; i < updates.size(); i++) {
      assertThat(updates.get(i).getLong("seq")).isEqualTo(updates.get(i - 1).getLong("seq") + 1);
    }
    assertThat(updates.stream().mapToInt(u -> u.getInteger("progress")).toArray()).isSorted();
    // Every gateway answers for it, and lists it; b's node entry shows the model it now holds.
    assertThat(get(portC, "/api/llm/progress/" + id).bodyAsJsonObject().getString("status")).isEqualTo("completed");
    assertThat(get(portC, "/api/llm/progress").bodyAsJsonObject().getJsonArray("operations").stream()
        .map(o -> ((JsonObject) o).getString("operation_id"))).contains(id);
    waitUntil(Duration.ofSeconds(10), () -> nodeOf(portA, "b").getJsonArray("loaded_models").stream()
        .anyMatch(m -> "hoist/demo-tiny".equals(((JsonObject) m).getString("repo"))));
    await(ws.close());
  }

  @Test
  @Order(4)
  void withoutANodeTheLoadGoesWhereMostMemoryIsFree() {
    // a and c are capped at 512 MB; b has the machine's free memory.
    HttpResponse<Buffer> accepted = post(portC, "/api/llm/load", new JsonObject().put("model_name", "demo-gguf"));
    assertThat(accepted.statusCode()).isEqualTo(202);
    assertThat(accepted.bodyAsJsonObject().getString("node")).isEqualTo("b");
    assertThat(waitForEnd(portC, accepted.bodyAsJsonObject().getString("operation_id"), Duration.ofSeconds(60))
        .getString("status")).isEqualTo("completed");
  }

  @Test
  @Order(5)
  void anEmbeddingApplicationTargetsANodeThroughTheEventBusClient() {
    HoistClient hoist = HoistClient.create(vertxA);
    JsonObject fleet = await(hoist.nodes());
    assertThat(fleet.getJsonArray("nodes")).hasSize(3);
    Operation op = await(hoist.load("demo-tiny", LoadOptions.builder().node("c").build()));
    assertThat(op.node()).isEqualTo("c");
    // Asked on a's bus, run on c, and followed from a.
    assertThat(await(hoist.whenFinished(op.id())).status()).isEqualTo(dev.hoist.contract.OperationStatus.COMPLETED);
  }

  @Test
  @Order(6)
  void oneModelOnAllNodesIsOneParentOperation() {
    // Named nodes here; "all" is what the dashboard's fleet test uses (FleetBrowserTest).
    HttpResponse<Buffer> accepted = post(portA, "/api/llm/load", new JsonObject().put("model_name", "demo-tiny")
        .put("nodes", new JsonArray().add("a").add("b").add("c")).put("max_bytes_per_second", 8_000_000));
    assertThat(accepted.statusCode()).isEqualTo(202);
    JsonObject parent = accepted.bodyAsJsonObject();
    assertThat(parent.getJsonArray("children").stream().map(c -> ((JsonObject) c).getString("node")))
        .containsExactly("a", "b", "c");
    String id = parent.getString("operation_id");
    JsonObject done = waitForEnd(portC, id, Duration.ofSeconds(90));
    assertThat(done.getString("status")).as("parent %s", done.encodePrettily()).isEqualTo("completed");
    assertThat(done.getInteger("progress")).isEqualTo(100);
    for (Object o : done.getJsonArray("children")) {
      JsonObject child = (JsonObject) o;
      assertThat(child.getString("status")).isEqualTo("completed");
      JsonObject state = get(portC, "/api/llm/progress/" + child.getString("operation_id")).bodyAsJsonObject();
      assertThat(state.getString("node")).isEqualTo(child.getString("node"));
      assertThat(state.getString("parent_id")).isEqualTo(id);
    }
    // The parent ran no stage of its own: bytes are its children's.
    assertThat(done.getJsonObject("stage").getLong("bytes_total")).isPositive();
    // History on any node is the fleet's: the children ran on a, b and c.
    JsonArray history = get(portC, "/api/llm/history?limit=100").bodyAsJsonObject().getJsonArray("operations");
    assertThat(history.stream().map(o -> (JsonObject) o).filter(o -> id.equals(o.getString("parent_id")))
        .map(o -> o.getString("node"))).containsExactlyInAnyOrder("a", "b", "c");
  }

  @Test
  @Order(7)
  void aKilledNodesOperationIsLostThenResumesWhenItReturns() throws Exception {
    List<JsonObject> seenOnC = new CopyOnWriteArrayList<>();
    WebSocket ws = await(webSockets.connect(portC, "127.0.0.1", "/api/llm/ws"));
    ws.textMessageHandler(text -> seenOnC.add(new JsonObject(text)));
    ws.closeHandler(v -> seenOnC.add(new JsonObject().put("type", "closed").put("status", ws.closeStatusCode() + " " + ws.closeReason())));
    ws.writeTextMessage(new JsonObject().put("type", "subscribe").put("operation_id", "*").encode());

    // A slow download, so that b dies in the middle of it.
    HttpResponse<Buffer> accepted = post(portA, "/api/llm/load", new JsonObject().put("model_name", "demo-sharded")
        .put("node", "b").put("max_bytes_per_second", 20_000_000));
    assertThat(accepted.statusCode()).isEqualTo(202);
    String id = accepted.bodyAsJsonObject().getString("operation_id");
    waitUntil(Duration.ofSeconds(30), () -> get(portA, "/api/llm/progress/" + id).bodyAsJsonObject()
        .getJsonObject("stage").getLong("bytes_done", 0L) > 20_000_000);

    nodeB.destroyForcibly(); // SIGKILL: no goodbye to the cluster
    assertThat(nodeB.waitFor(10, TimeUnit.SECONDS)).isTrue();
    long killedAt = System.nanoTime();
    JsonObject[] lost = new JsonObject[1];
    waitUntil(Duration.ofSeconds(10), () -> "error".equals((lost[0] = get(portA, "/api/llm/progress/" + id).bodyAsJsonObject())
        .getString("status")));
    assertThat(Duration.ofNanos(System.nanoTime() - killedAt)).isLessThan(Duration.ofSeconds(10));
    assertThat(lost[0].getJsonObject("error").getString("code")).isEqualTo("node_lost");
    assertThat(lost[0].getJsonObject("error").getString("message")).isEqualTo("node b lost");
    assertThat(lost[0].getJsonObject("error").getBoolean("retryable")).isTrue();
    // Every gateway says the same, the subscriber on c was told, and b shows as lost.
    assertThat(get(portC, "/api/llm/progress/" + id).bodyAsJsonObject().getJsonObject("error").getString("code")).isEqualTo("node_lost");
    waitUntil(Duration.ofSeconds(5), () -> updatesOf(seenOnC, id).stream().anyMatch(u -> "error".equals(u.getString("status"))));
    // c judges b's silence by its own clock, checked once a heartbeat: it agrees within one more.
    waitUntil(Duration.ofSeconds(3), () -> "lost".equals(nodeOf(portC, "b").getString("status")));
    // Nothing is sent to the dead node: a load aimed at it is refused at once, not after a timeout.
    long asked = System.nanoTime();
    HttpResponse<Buffer> refused = post(portA, "/api/llm/load", new JsonObject().put("model_name", "demo-tiny").put("node", "b"));
    assertThat(refused.statusCode()).isEqualTo(503);
    assertThat(Duration.ofNanos(System.nanoTime() - asked)).isLessThan(Duration.ofSeconds(2));
    assertThat(get(portA, "/api/llm/progress").bodyAsJsonObject().getJsonArray("operations").stream()
        .map(o -> ((JsonObject) o).getString("operation_id"))).contains(id);

    nodeB = launchB(); // same name, same data dir
    JsonObject done = waitForEnd(portA, id, Duration.ofSeconds(90));
    assertThat(done.getString("status")).as("logs %s", done.getJsonArray("logs")).isEqualTo("completed");
    assertThat(done.getJsonArray("logs").encode()).contains("Hoist restarted while this operation was downloading");
    try {
      waitUntil(Duration.ofSeconds(10), () -> updatesOf(seenOnC, id).stream().anyMatch(u -> "completed".equals(u.getString("status"))));
    } catch (AssertionError e) {
      throw new AssertionError("c's subscriber saw only " + seenOnC.stream().filter(f -> !"snapshot".equals(f.getString("type")))
          .map(f -> f.getString("type") + ":" + f.getString("status") + "#" + f.getLong("seq")).toList(), e);
    }
    assertThat(nodeOf(portA, "b").getString("status")).isEqualTo("up");
    await(ws.close());
  }

  // ------------------------------------------------------------------ helpers

  /** Node b: Hoist's main class in a JVM of its own, configured through the environment. */
  private Process launchB() throws Exception {
    JsonObject config = fleet.nodeConfig(1, "b", dirB);
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    ProcessBuilder pb = new ProcessBuilder(java, "--add-opens", "java.base/java.lang=ALL-UNNAMED",
        "--add-opens", "java.base/sun.nio.ch=ALL-UNNAMED", "-cp", System.getProperty("java.class.path"), "dev.hoist.Hoist");
    Map<String, String> env = pb.environment();
    config.forEach(e -> env.put(e.getKey(), String.valueOf(e.getValue())));
    pb.redirectErrorStream(true);
    // Kept under target/ so a failed run can be read afterwards.
    pb.redirectOutput(new File("target", "fleet-node-b-" + System.nanoTime() + ".log"));
    Process p = pb.start();
    waitUntil(Duration.ofSeconds(60), () -> upNodes(portA).contains("b"));
    return p;
  }

  private List<String> upNodes(int port) {
    try {
      List<String> up = new ArrayList<>();
      for (Object o : get(port, "/api/llm/nodes").bodyAsJsonObject().getJsonArray("nodes")) {
        if ("up".equals(((JsonObject) o).getString("status"))) {
          up.add(((JsonObject) o).getString("node"));
        }
      }
      return up;
    } catch (RuntimeException e) {
      return List.of();
    }
  }

  private JsonObject nodeOf(int port, String name) {
    return get(port, "/api/llm/nodes").bodyAsJsonObject().getJsonArray("nodes").stream().map(o -> (JsonObject) o)
        .filter(n -> name.equals(n.getString("node"))).findFirst().orElseThrow();
  }

  private static List<JsonObject> updatesOf(List<JsonObject> frames, String id) {
    return frames.stream().filter(f -> id.equals(f.getString("operation_id")) && "update".equals(f.getString("type"))).toList();
  }

  private JsonObject waitForEnd(int port, String id, Duration timeout) {
    JsonObject[] op = new JsonObject[1];
    try {
      waitUntil(timeout, () -> (op[0] = get(port, "/api/llm/progress/" + id).bodyAsJsonObject()).getString("status", "")
          .matches("completed|error|cancelled"));
    } catch (InterruptedException e) {
      throw new AssertionError(e);
    } catch (AssertionError e) {
      throw new AssertionError("operation " + id + " did not end: " + (op[0] == null ? null : op[0].encodePrettily()), e);
    }
    return op[0];
  }

  private HttpResponse<Buffer> get(int port, String path) {
    return await(http.get(port, "127.0.0.1", path).timeout(15_000).send());
  }

  private HttpResponse<Buffer> post(int port, String path, JsonObject body) {
    return await(http.post(port, "127.0.0.1", path).timeout(15_000).sendJsonObject(body));
  }
}
