package dev.hoist.client;

import static dev.hoist.support.TestSupport.await;
import static org.assertj.core.api.Assertions.assertThat;

import dev.hoist.Hoist;
import dev.hoist.contract.ErrorCode;
import dev.hoist.contract.HoistException;
import dev.hoist.contract.OperationStatus;
import dev.hoist.support.TestSupport;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/**
 * The typed event-bus client against the whole of Hoist deployed in the same Vert.x: every call,
 * its error mapping, and the update stream's order, end and back-pressure.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class HoistClientTest {

  @TempDir
  static Path dataDir;
  private Vertx vertx;
  private HoistClient client;

  @BeforeAll
  void start() throws Exception {
    vertx = Vertx.vertx();
    await(Hoist.deploy(vertx, TestSupport.config(dataDir)));
    client = HoistClient.create(vertx);
  }

  @AfterAll
  void stop() {
    await(vertx.close());
  }

  @Test
  void loadsDemoTinyAndTheUpdateStreamGivesASnapshotThenConsecutiveSeqsEndingCompleted() throws Exception {
    Operation started = await(client.load("demo-tiny"));
    assertThat(started.id()).isNotBlank();
    assertThat(started.modelName()).isEqualTo("demo-tiny");
    assertThat(started.repo()).isEqualTo("hoist/demo-tiny");

    List<Operation> seen = new CopyOnWriteArrayList<>();
    Promise<Void> ended = Promise.promise();
    client.updates(started.id()).exceptionHandler(ended::tryFail).endHandler(ended::tryComplete).handler(seen::add);
    await(ended.future());

    assertThat(seen).isNotEmpty();
    for (int i = 1; i < seen.size(); i++) {
      assertThat(seen.get(i).seq()).as("seq after %s", seen.get(i - 1)).isEqualTo(seen.get(i - 1).seq() + 1);
    }
    Operation last = seen.get(seen.size() - 1);
    assertThat(last.status()).as("logs %s", last.logs()).isEqualTo(OperationStatus.COMPLETED);
    assertThat(last.progress()).isEqualTo(100);
    assertThat(last.isFinished()).isTrue();
    assertThat(last.error()).isNull();
    assertThat(last.summary().getString("format")).isEqualTo("safetensors");
    assertThat(last.stage().bytesTotal()).isPositive();
    assertThat(last.commit()).matches("[0-9a-f]{40}");
    assertThat(last.logs()).anyMatch(line -> line.contains("Completed in"));
    assertThat(last.createdAt()).isBefore(last.updatedAt());

    // The same state through the other calls.
    assertThat(await(client.get(started.id())).json()).isEqualTo(last.json());
    assertThat(await(client.list())).extracting(Operation::id).contains(started.id());
    assertThat(await(client.whenFinished(started.id())).status()).isEqualTo(OperationStatus.COMPLETED);
    List<Operation> history = await(client.history(HistoryQuery.all().model("demo-tiny").status(OperationStatus.COMPLETED).limit(5)));
    assertThat(history).extracting(Operation::id).contains(started.id());
    CatalogModel tiny = await(client.models()).stream().filter(m -> m.name().equals("demo-tiny")).findFirst().orElseThrow();
    assertThat(tiny.loaded()).isTrue();
    assertThat(tiny.downloaded()).isTrue();
    assertThat(await(client.stats()).getJsonArray("models").encode()).contains("demo-tiny");
  }

  @Test
  void failuresArriveAsHoistExceptionsWithTheContractsCodes() {
    assertThat(code(client.load("no-such-model"))).isEqualTo(ErrorCode.MODEL_NOT_FOUND);
    assertThat(code(client.load("../etc/passwd"))).isEqualTo(ErrorCode.INVALID_MODEL_NAME);
    assertThat(code(client.load("demo-tiny", LoadOptions.builder().priority(1000).build()))).isEqualTo(ErrorCode.BAD_REQUEST);
    assertThat(code(client.get("no-such-id"))).isEqualTo(ErrorCode.NOT_FOUND);
    assertThat(code(client.cancel("no-such-id"))).isEqualTo(ErrorCode.NOT_FOUND);
    assertThat(code(client.unload("no-such-model"))).isEqualTo(ErrorCode.MODEL_NOT_FOUND);

    Promise<Void> failed = Promise.promise();
    client.updates("no-such-id").exceptionHandler(failed::tryFail).endHandler(failed::tryComplete).handler(op -> { });
    assertThat(code(failed.future())).isEqualTo(ErrorCode.NOT_FOUND);
  }

  @Test
  void aVertxWithoutHoistGivesServiceUnavailable() {
    Vertx empty = Vertx.vertx();
    try {
      HoistClient nobody = HoistClient.create(empty, Duration.ofMillis(500));
      assertThat(code(nobody.list())).isEqualTo(ErrorCode.SERVICE_UNAVAILABLE);
    } finally {
      await(empty.close());
    }
  }

  @Test
  void cancelRetryAndDeleteFollowTheOperationsLifecycle() throws Exception {
    // Slow enough to still be running when cancelled.
    Operation op = await(client.load("demo-sharded", LoadOptions.builder().maxBytesPerSecond(2_000_000).priority(50).build()));
    List<Operation> seen = new CopyOnWriteArrayList<>();
    Promise<Void> ended = Promise.promise();
    client.updates(op.id()).endHandler(ended::tryComplete).exceptionHandler(ended::tryFail).handler(seen::add);

    assertThat(code(client.delete(op.id()))).isEqualTo(ErrorCode.OPERATION_ACTIVE);
    Operation cancelled = await(client.cancel(op.id()));
    assertThat(cancelled.status()).isEqualTo(OperationStatus.CANCELLED);
    await(ended.future());
    assertThat(seen.get(seen.size() - 1).status()).isEqualTo(OperationStatus.CANCELLED);
    assertThat(code(client.cancel(op.id()))).isEqualTo(ErrorCode.OPERATION_FINISHED);

    Operation retried = await(client.retry(op.id()));
    assertThat(retried.id()).isEqualTo(op.id());
    assertThat(retried.attempt()).isEqualTo(2);
    assertThat(retried.isFinished()).isFalse();
    assertThat(await(client.cancel(op.id())).status()).isEqualTo(OperationStatus.CANCELLED);

    await(client.delete(op.id()));
    assertThat(code(client.get(op.id()))).isEqualTo(ErrorCode.NOT_FOUND);
  }

  @Test
  void aPausedStreamHoldsItsItemsUntilFetched() throws Exception {
    Operation done = await(client.load("demo-tiny").compose(op -> client.whenFinished(op.id())));
    List<Operation> seen = new CopyOnWriteArrayList<>();
    Promise<Void> ended = Promise.promise();
    UpdateStream stream = client.updates(done.id());
    stream.pause().endHandler(ended::tryComplete).handler(seen::add);
    Thread.sleep(300); // the snapshot has arrived by now, and waits
    assertThat(seen).isEmpty();
    assertThat(ended.future().isComplete()).isFalse();
    stream.fetch(1);
    await(ended.future());
    assertThat(seen).hasSize(1);
    assertThat(seen.get(0).status()).isEqualTo(OperationStatus.COMPLETED);
  }

  @Test
  void followingAllSeesEveryOperationUntilClosed() throws Exception {
    List<Operation> seen = new CopyOnWriteArrayList<>();
    UpdateStream all = client.updates(UpdateStream.ALL).handler(seen::add);
    Operation op = await(client.load("demo-gguf"));
    await(client.whenFinished(op.id()));
    TestSupport.waitUntil(Duration.ofSeconds(10), () -> seen.stream()
        .anyMatch(o -> o.id().equals(op.id()) && o.status() == OperationStatus.COMPLETED));
    long previous = 0;
    for (Operation o : seen) {
      if (o.id().equals(op.id())) {
        assertThat(o.seq()).isGreaterThan(previous);
        previous = o.seq();
      }
    }
    await(all.close());
    int count = seen.size();
    await(client.load("demo-gguf").compose(again -> client.whenFinished(again.id())));
    TimeUnit.MILLISECONDS.sleep(200);
    assertThat(seen).hasSize(count);
  }

  private static ErrorCode code(Future<?> future) {
    try {
      future.toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
    } catch (java.util.concurrent.ExecutionException e) {
      assertThat(e.getCause()).isInstanceOf(HoistException.class);
      return ((HoistException) e.getCause()).code();
    } catch (Exception e) {
      throw new AssertionError(e);
    }
    throw new AssertionError("expected a failure");
  }
}
