package dev.hoist.registry;

import static dev.hoist.contract.EventBusContract.*;
import static dev.hoist.support.TestSupport.await;
import static dev.hoist.support.TestSupport.waitUntil;
import static org.assertj.core.api.Assertions.assertThat;

import dev.hoist.HoistConfig;
import io.vertx.core.DeploymentOptions;
import io.vertx.core.eventbus.DeliveryOptions;
import io.vertx.core.Vertx;
import io.vertx.core.eventbus.ReplyException;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.junit5.VertxExtension;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * The registry alone on the event bus: this test plays the download and load stages (it answers
 * their commands and sends their reports) and watches what the registry publishes.
 */
@ExtendWith(VertxExtension.class)
class RegistryVerticleTest {

  @TempDir
  Path dataDir;
  private Vertx vertx;
  private final List<JsonObject> downloadCommands = new CopyOnWriteArrayList<>();
  private final List<JsonObject> loadCommands = new CopyOnWriteArrayList<>();
  private final List<JsonObject> published = new CopyOnWriteArrayList<>();

  @BeforeEach
  void setUp() {
    vertx = Vertx.vertx();
    vertx.eventBus().<JsonObject>consumer(DOWNLOAD_START, m -> {
      downloadCommands.add(m.body());
      m.reply(new JsonObject().put(ACCEPTED, true));
    });
    vertx.eventBus().<JsonObject>consumer(LOAD_START, m -> {
      loadCommands.add(m.body());
      m.reply(new JsonObject().put(ACCEPTED, true));
    });
    vertx.eventBus().<JsonObject>consumer(OPS_UPDATES, m -> published.add(m.body()));
  }

  @AfterEach
  void tearDown() {
    await(vertx.close());
  }

  private void deploy(JsonObject extra) {
    JsonObject config = new JsonObject().put(HoistConfig.MODELS_FILE, "conf/models.json")
        .put(HoistConfig.DATA_DIR, dataDir.toString()).mergeIn(extra);
    await(vertx.deployVerticle(new RegistryVerticle(), new DeploymentOptions().setConfig(config)));
  }

  private JsonObject request(String address, JsonObject body) {
    return await(vertx.eventBus().<JsonObject>request(address, body)).body();
  }

  private String create(String model) {
    return request(OPS_CREATE, new JsonObject().put(MODEL_NAME, model)).getString(OPERATION_ID);
  }

  private JsonObject get(String id) {
    return request(OPS_GET, new JsonObject().put(OPERATION_ID, id));
  }

  private void report(String id, String stage, String kind, JsonObject fields) {
    vertx.eventBus().send(OPS_REPORT, fields.copy().put(OPERATION_ID, id).put(ATTEMPT, 1).put(STAGE, stage).put(KIND, kind));
  }

  /** Reports are fire-and-forget; a get after them is ordered behind them on the registry's loop. */
  private JsonObject reportAndGet(String id, String stage, String kind, JsonObject fields) {
    report(id, stage, kind, fields);
    return get(id);
  }

  @Test
  void mapsStageBytesIntoTheSeedsBands() throws Exception {
    deploy(new JsonObject());
    String id = create("demo-tiny");
    waitUntil(Duration.ofSeconds(5), () -> downloadCommands.size() == 1);
    assertThat(downloadCommands.get(0).getString(REPO)).isEqualTo("hoist/demo-tiny");
    assertThat(downloadCommands.get(0).getString(HUB)).isEqualTo("mirror");
    assertThat(get(id).getInteger(PROGRESS)).isZero();
    assertThat(get(id).getString(STATUS)).isEqualTo("initializing");

    assertThat(reportAndGet(id, "initializing", KIND_PROGRESS, new JsonObject().put(PROGRESS, 1.0)).getInteger(PROGRESS)).isEqualTo(5);
    JsonObject half = reportAndGet(id, "downloading", KIND_PROGRESS, new JsonObject().put(BYTES_DONE, 500).put(BYTES_TOTAL, 1000));
    assertThat(half.getString(STATUS)).isEqualTo("downloading");
    assertThat(half.getInteger(PROGRESS)).isEqualTo(35);
    assertThat(reportAndGet(id, "downloading", KIND_PROGRESS, new JsonObject().put(BYTES_DONE, 1000).put(BYTES_TOTAL, 1000))
        .getInteger(PROGRESS)).isEqualTo(60);

    JsonObject loading = reportAndGet(id, "downloading", KIND_COMPLETED, new JsonObject().put(RESULT, new JsonObject()
        .put(COMMIT, "0123456789012345678901234567890123456789").put(SNAPSHOT_DIR, "/x").put(FILES, new JsonArray())));
    assertThat(loading.getString(STATUS)).isEqualTo("loading");
    assertThat(loading.getInteger(PROGRESS)).isEqualTo(60);
    waitUntil(Duration.ofSeconds(5), () -> loadCommands.size() == 1);
    assertThat(loadCommands.get(0).getString(MODEL_KEY)).isEqualTo("hoist/demo-tiny@0123456789012345678901234567890123456789");

    assertThat(reportAndGet(id, "loading", KIND_PROGRESS, new JsonObject().put(BYTES_DONE, 50).put(BYTES_TOTAL, 100))
        .getInteger(PROGRESS)).isEqualTo(72);
    JsonObject done = reportAndGet(id, "loading", KIND_COMPLETED, new JsonObject().put(RESULT, new JsonObject()
        .put("tensors", 3).put("parameters", 42).put("bytes_resident", 100)));
    assertThat(done.getString(STATUS)).isEqualTo("completed");
    assertThat(done.getInteger(PROGRESS)).isEqualTo(100);
    assertThat(done.getJsonObject(SUMMARY).getInteger("parameters")).isEqualTo(42);

    // Every change was published, in order, and finalizing was passed on the way.
    List<JsonObject> mine = published.stream().filter(p -> id.equals(p.getString(OPERATION_ID))).toList();
    for (int i = 0; i < mine.size(); i++) {
      assertThat(mine.get(i).getLong(SEQ)).isEqualTo(i + 1L);
    }
    assertThat(mine).anyMatch(p -> "finalizing".equals(p.getString(STATUS)) && p.getInteger(PROGRESS) == 95);
    assertThat(mine.get(mine.size() - 1)).isEqualTo(done);
  }

  @Test
  void progressNeverGoesBackwards() {
    deploy(new JsonObject());
    String id = create("demo-tiny");
    assertThat(reportAndGet(id, "downloading", KIND_PROGRESS, new JsonObject().put(BYTES_DONE, 800).put(BYTES_TOTAL, 1000))
        .getInteger(PROGRESS)).isEqualTo(50);
    // A file restarted from zero (the hub ignored a resume) lowers the bytes, not the progress.
    JsonObject after = reportAndGet(id, "downloading", KIND_PROGRESS, new JsonObject().put(BYTES_DONE, 100).put(BYTES_TOTAL, 1000));
    assertThat(after.getInteger(PROGRESS)).isEqualTo(50);
    assertThat(after.getJsonObject(STAGE).getLong(BYTES_DONE)).isEqualTo(100);
    // A report for an earlier stage does not move the state back either.
    assertThat(reportAndGet(id, "initializing", KIND_PROGRESS, new JsonObject().put(PROGRESS, 0.0)).getString(STATUS)).isEqualTo("downloading");
  }

  @Test
  void keepsAtMostMaxProgressEntriesLogLines() {
    deploy(new JsonObject().put(HoistConfig.MAX_PROGRESS_ENTRIES, 5));
    String id = create("demo-tiny");
    for (int i = 0; i < 20; i++) {
      report(id, "downloading", KIND_PROGRESS, new JsonObject().put(LOG, "line " + i));
    }
    JsonArray logs = get(id).getJsonArray(LOGS);
    assertThat(logs.size()).isEqualTo(5);
    assertThat(logs.getString(0)).endsWith("line 15");
    assertThat(logs.getString(4)).endsWith("line 19");
  }

  @Test
  void aFailedStageEndsTheOperationWithItsErrorAndLaterReportsAreIgnored() {
    deploy(new JsonObject());
    String id = create("demo-tiny");
    report(id, "downloading", KIND_PROGRESS, new JsonObject().put(BYTES_DONE, 10).put(BYTES_TOTAL, 100));
    JsonObject failed = reportAndGet(id, "downloading", KIND_FAILED, new JsonObject().put(ERROR, new JsonObject()
        .put(CODE, "hub_unreachable").put(MESSAGE, "cannot reach the hub").put(RETRYABLE, true)));
    assertThat(failed.getString(STATUS)).isEqualTo("error");
    assertThat(failed.getJsonObject(ERROR).getString(CODE)).isEqualTo("hub_unreachable");
    assertThat(failed.getJsonObject(ERROR).getBoolean(RETRYABLE)).isTrue();
    assertThat(failed.getString(MESSAGE)).isEqualTo("cannot reach the hub");
    assertThat(reportAndGet(id, "downloading", KIND_PROGRESS, new JsonObject().put(BYTES_DONE, 100).put(BYTES_TOTAL, 100)))
        .isEqualTo(failed);
  }

  @Test
  void reportsOfAnotherAttemptAreIgnored() {
    deploy(new JsonObject());
    String id = create("demo-tiny");
    vertx.eventBus().send(OPS_REPORT, new JsonObject().put(OPERATION_ID, id).put(ATTEMPT, 7).put(STAGE, "downloading")
        .put(KIND, KIND_PROGRESS).put(BYTES_DONE, 10).put(BYTES_TOTAL, 10));
    assertThat(get(id).getString(STATUS)).isEqualTo("initializing");
  }

  @Test
  void unknownModelsAndBadNamesFailWithoutCreatingAnOperation() throws Exception {
    deploy(new JsonObject());
    assertThat(failureOf(OPS_CREATE, new JsonObject().put(MODEL_NAME, "nope"))).isEqualTo(404);
    assertThat(failureOf(OPS_CREATE, new JsonObject().put(MODEL_NAME, "a/b/c"))).isEqualTo(400);
    assertThat(failureOf(OPS_CREATE, new JsonObject().put(MODEL_NAME, 42))).isEqualTo(400);
    assertThat(failureOf(OPS_CREATE, new JsonObject().put(MODEL_NAME, "owner/name@../x"))).isEqualTo(400);
    assertThat(request(OPS_LIST, new JsonObject()).getJsonArray(OPERATIONS)).isEmpty();
    Thread.sleep(100);
    assertThat(downloadCommands).isEmpty();
    assertThat(failureOf(OPS_GET, new JsonObject().put(OPERATION_ID, "x"))).isEqualTo(404);
  }

  @Test
  void anActiveOperationCannotBeDeletedAFinishedOneCan() {
    deploy(new JsonObject());
    String id = create("demo-tiny");
    assertThat(failureOf(OPS_DELETE, new JsonObject().put(OPERATION_ID, id))).isEqualTo(409);
    report(id, "downloading", KIND_FAILED, new JsonObject().put(ERROR, new JsonObject().put(CODE, "hub_unreachable").put(MESSAGE, "x")));
    request(OPS_DELETE, new JsonObject().put(OPERATION_ID, id));
    assertThat(failureOf(OPS_GET, new JsonObject().put(OPERATION_ID, id))).isEqualTo(404);
    assertThat(published.get(published.size() - 1).getBoolean(REMOVED)).isTrue();
  }

  @Test
  void listsNewestFirst() {
    deploy(new JsonObject());
    String first = create("demo-tiny");
    String second = create("demo-gguf");
    JsonArray ops = request(OPS_LIST, new JsonObject()).getJsonArray(OPERATIONS);
    assertThat(ops.getJsonObject(0).getString(OPERATION_ID)).isEqualTo(second);
    assertThat(ops.getJsonObject(1).getString(OPERATION_ID)).isEqualTo(first);
  }

  @Test
  void cleanupDropsFinishedOperationsOlderThanTheIntervalAndKeepsActiveOnes() throws Exception {
    deploy(new JsonObject().put(HoistConfig.PROGRESS_CLEANUP_INTERVAL, 1));
    String finished = create("demo-tiny");
    String active = create("demo-gguf");
    report(finished, "downloading", KIND_FAILED, new JsonObject().put(ERROR, new JsonObject().put(CODE, "hub_unreachable").put(MESSAGE, "x")));
    waitUntil(Duration.ofSeconds(10), () -> failureOf(OPS_GET, new JsonObject().put(OPERATION_ID, finished)) == 404);
    assertThat(get(active).getString(STATUS)).isEqualTo("initializing");
    assertThat(published).anyMatch(p -> finished.equals(p.getString(OPERATION_ID)) && p.getBoolean(REMOVED, false));
  }

  @Test
  void theRateFallsWhileNoBytesArrive() throws Exception {
    deploy(new JsonObject());
    String id = create("demo-tiny");
    for (int i = 0; i <= 10; i++) {
      report(id, "downloading", KIND_PROGRESS, new JsonObject().put(BYTES_DONE, i * 100_000L).put(BYTES_TOTAL, 10_000_000L));
      Thread.sleep(50);
    }
    double moving = get(id).getJsonObject(STAGE).getDouble(BYTES_PER_SECOND);
    assertThat(moving).isGreaterThan(500_000);
    assertThat(get(id).getJsonObject(STAGE).getLong(ETA_SECONDS)).isNotNull();
    // No report for a while: the periodic tick lets the rate decay instead of freezing it.
    waitUntil(Duration.ofSeconds(10), () -> get(id).getJsonObject(STAGE).getDouble(BYTES_PER_SECOND) < moving / 2);
  }

  /** A read as the gateway asks it: the reply is the JSON as text. */
  private String text(String address, JsonObject body) {
    return await(vertx.eventBus().<String>request(address, body,
        new DeliveryOptions().addHeader(REPLY_FORMAT, REPLY_AS_TEXT))).body();
  }

  @Test
  void readsAskedAsTextAreTheSameJsonEncodedOncePerChange() throws Exception {
    deploy(new JsonObject());
    create("demo-gguf");
    String id = create("demo-tiny");
    JsonObject byId = new JsonObject().put(OPERATION_ID, id);
    // The same JSON as the object reply (compared in a moment without a change in between).
    waitUntil(Duration.ofSeconds(10), () -> new JsonObject(text(OPS_GET, byId)).equals(get(id)));
    waitUntil(Duration.ofSeconds(10), () -> new JsonObject(text(OPS_LIST, new JsonObject())).equals(request(OPS_LIST, new JsonObject())));
    // Between two changes, reads share one encoding instead of building and encoding it again.
    waitUntil(Duration.ofSeconds(10), () -> text(OPS_GET, byId) == text(OPS_GET, byId));
    // A change is in the very next read.
    report(id, "downloading", KIND_PROGRESS, new JsonObject().put(BYTES_DONE, 500).put(BYTES_TOTAL, 1000).put(MESSAGE, "half way"));
    JsonObject after = new JsonObject(text(OPS_GET, byId));
    assertThat(after.getString(MESSAGE)).isEqualTo("half way");
    assertThat(after.getJsonObject(STAGE).getLong(BYTES_DONE)).isEqualTo(500);
  }

  @Test
  void aNewResourceSampleIsInTheNextTextReadThoughNothingIsPublished() throws Exception {
    deploy(new JsonObject());
    String id = create("demo-tiny");
    JsonObject byId = new JsonObject().put(OPERATION_ID, id);
    waitUntil(Duration.ofSeconds(10), () -> sampledAt(text(OPS_GET, byId)) != null);
    String first = sampledAt(text(OPS_GET, byId));
    int publishedBefore = published.size();
    // The sampler runs every other second; its sample changes no seq, so only dropping the encoding shows it.
    waitUntil(Duration.ofSeconds(10), () -> !first.equals(sampledAt(text(OPS_GET, byId))));
    assertThat(published.stream().skip(publishedBefore).filter(p -> id.equals(p.getString(OPERATION_ID)))).isEmpty();
  }

  @Test
  void aParentsSummedBytesAreInTheNextTextReadThoughNothingIsPublished() throws Exception {
    deploy(new JsonObject());
    String parent = request(OPS_CREATE, new JsonObject().put(MODEL_NAME, "demo-tiny").put(NODES, "all")).getString(OPERATION_ID);
    JsonObject byId = new JsonObject().put(OPERATION_ID, parent);
    waitUntil(Duration.ofSeconds(10), () -> get(parent).getJsonArray(CHILDREN).getJsonObject(0).getString(OPERATION_ID) != null);
    String child = get(parent).getJsonArray(CHILDREN).getJsonObject(0).getString(OPERATION_ID);
    report(child, "downloading", KIND_PROGRESS, new JsonObject().put(BYTES_DONE, 1000).put(BYTES_TOTAL, 10_000_000));
    waitUntil(Duration.ofSeconds(10), () -> new JsonObject(text(OPS_GET, byId)).getJsonObject(STAGE).getLong(BYTES_DONE) == 1000);
    int publishedBefore = published.size();
    // Too few bytes to move the child's progress: the parent's rows are the same, so nothing of it is published.
    report(child, "downloading", KIND_PROGRESS, new JsonObject().put(BYTES_DONE, 2000).put(BYTES_TOTAL, 10_000_000));
    assertThat(new JsonObject(text(OPS_GET, new JsonObject().put(OPERATION_ID, child))).getJsonObject(STAGE).getLong(BYTES_DONE)).isEqualTo(2000);
    assertThat(new JsonObject(text(OPS_GET, byId)).getJsonObject(STAGE).getLong(BYTES_DONE)).isEqualTo(2000);
    assertThat(published.stream().skip(publishedBefore).filter(p -> parent.equals(p.getString(OPERATION_ID)))).isEmpty();
  }

  private static String sampledAt(String operation) {
    JsonObject resources = new JsonObject(operation).getJsonObject(STAGE).getJsonObject("resources");
    return resources == null ? null : resources.getString("sampled_at");
  }

  private int failureOf(String address, JsonObject body) {
    try {
      vertx.eventBus().request(address, body).toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
      return 0;
    } catch (ExecutionException e) {
      return ((ReplyException) e.getCause()).failureCode();
    } catch (Exception e) {
      throw new AssertionError(e);
    }
  }
}
