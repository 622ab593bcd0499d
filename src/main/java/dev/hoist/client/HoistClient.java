package dev.hoist.client;

import static dev.hoist.contract.EventBusContract.*;

import dev.hoist.contract.Failures;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.eventbus.DeliveryOptions;
import io.vertx.core.eventbus.Message;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Objects;
import java.util.function.Function;

/**
 * A typed client for Hoist over the event bus, for applications that run Hoist's verticles in
 * their own Vert.x (or join its cluster) and want no HTTP in between.
 *
 * <pre>{@code
 * HoistClient hoist = HoistClient.create(vertx);
 * hoist.load("demo-tiny")
 *     .onSuccess(op -> hoist.updates(op.id())
 *         .handler(update -> System.out.println(update.status() + " " + update.progress() + "%"))
 *         .endHandler(v -> System.out.println("done")));
 * }</pre>
 *
 * <p>Every method returns a {@link Future} and never blocks. A request that fails fails its future
 * with a {@link dev.hoist.contract.HoistException} carrying the contract's stable error code
 * ({@code model_not_found}, {@code not_found}, {@code operation_active} …); a registry that does not
 * answer in time, or is not deployed, gives {@code service_unavailable}. The requests and their
 * replies are the ones of {@code docs/event-bus.md}.
 *
 * <p>A client holds no resources of its own: create as many as you like, nothing to close (only
 * the {@link UpdateStream}s it returns listen to the bus until they end or are closed).
 */
public final class HoistClient {

  /** The default request timeout, the same as Hoist's own {@code HOIST_REQUEST_TIMEOUT_MS}. */
  public static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(10);

  private final Vertx vertx;
  private final DeliveryOptions requestOptions;

  private HoistClient(Vertx vertx, Duration timeout) {
    this.vertx = Objects.requireNonNull(vertx, "vertx");
    if (timeout.isNegative() || timeout.isZero()) {
      throw new IllegalArgumentException("timeout must be positive, was " + timeout);
    }
    this.requestOptions = new DeliveryOptions().setSendTimeout(timeout.toMillis());
  }

  /** A client with the {@linkplain #DEFAULT_TIMEOUT default} request timeout of 10 s. */
  public static HoistClient create(Vertx vertx) {
    return new HoistClient(vertx, DEFAULT_TIMEOUT);
  }

  /** A client whose requests fail with {@code service_unavailable} after {@code requestTimeout}. */
  public static HoistClient create(Vertx vertx, Duration requestTimeout) {
    return new HoistClient(vertx, requestTimeout);
  }

  // ------------------------------------------------------------------ operations

  /**
   * Starts loading a model: a catalog alias ({@code demo-tiny}) or a hub repo id
   * ({@code owner/name[@revision]}). The operation comes back at once, usually {@code queued} or
   * {@code initializing}; follow it with {@link #updates(String)}. If the same model is already
   * loading, this joins it: the same operation, with {@link Operation#joined()} true.
   * Fails with {@code model_not_found}, {@code invalid_model_name} or {@code bad_request}, creating nothing.
   */
  public Future<Operation> load(String modelName) {
    return load(modelName, LoadOptions.NONE);
  }

  /** As {@link #load(String)}, with a revision, file selection, bandwidth limit or priority. */
  public Future<Operation> load(String modelName, LoadOptions options) {
    return request(OPS_CREATE, options.toRequest(modelName)).map(Operation::new);
  }

  /** One operation; fails with {@code not_found}. */
  public Future<Operation> get(String operationId) {
    return request(OPS_GET, idOf(operationId)).map(Operation::new);
  }

  /** The live operations, newest first (finished ones stay until {@code PROGRESS_CLEANUP_INTERVAL}). */
  public Future<List<Operation>> list() {
    return request(OPS_LIST, new JsonObject()).map(body -> listOf(body.getJsonArray(OPERATIONS), Operation::new));
  }

  /** Stops an operation in any stage; it comes back {@code cancelled}. Fails {@code operation_finished} if it already ended. */
  public Future<Operation> cancel(String operationId) {
    return request(OPS_CANCEL, idOf(operationId)).map(Operation::new);
  }

  /**
   * Runs a failed or cancelled operation again under the same id, {@code attempt} + 1, continuing
   * from what is on disk. Fails with {@code operation_active} or {@code operation_finished} otherwise.
   */
  public Future<Operation> retry(String operationId) {
    return request(OPS_RETRY, idOf(operationId)).map(Operation::new);
  }

  /** Removes a finished operation from the live list (history keeps it); {@code operation_active} while it runs. */
  public Future<Void> delete(String operationId) {
    return request(OPS_DELETE, idOf(operationId)).mapEmpty();
  }

  /** Operations from the database, finished ones included, newest first. */
  public Future<List<Operation>> history(HistoryQuery query) {
    return request(OPS_HISTORY, query.toRequest()).map(body -> listOf(body.getJsonArray(OPERATIONS), Operation::new));
  }

  /** The last 50 operations from the database. */
  public Future<List<Operation>> history() {
    return history(HistoryQuery.all());
  }

  /** Per-model statistics: {@code {models: [{model_name, loads, success_rate, median_download_seconds, ...}]}}. */
  public Future<JsonObject> stats() {
    return request(OPS_STATS, new JsonObject());
  }

  // ------------------------------------------------------------------ fleet

  /**
   * The nodes of the fleet as this node sees them: {@code {self, clustered, nodes: [{node, status,
   * resources, loaded_models, active_operations, ...}]}} (one node outside a cluster; docs/cluster.md).
   */
  public Future<JsonObject> nodes() {
    return request(NODES_LIST, new JsonObject());
  }

  // ------------------------------------------------------------------ models

  /** The catalog, each entry with whether it is downloaded and loaded. */
  public Future<List<CatalogModel>> models() {
    return request(MODELS_LIST, new JsonObject()).map(body -> listOf(body.getJsonArray(MODELS), CatalogModel::new));
  }

  /**
   * Releases a resident model: {@code {model_name, repo, unloaded: [model_key...], bytes_released}}.
   * Fails with {@code model_not_loaded} when it is not in memory.
   */
  public Future<JsonObject> unload(String modelName) {
    return request(MODELS_UNLOAD, new JsonObject().put(MODEL_NAME, modelName));
  }

  // ------------------------------------------------------------------ live updates

  /**
   * Follows one operation ({@code operationId}) or every one ({@code "*"}): a snapshot, then each
   * change in {@code seq} order without duplicates. Following one id, the stream ends after the
   * operation's final state. See {@link UpdateStream}.
   */
  public UpdateStream updates(String operationId) {
    return new UpdateStream(vertx, Objects.requireNonNull(operationId, "operationId"), requestOptions);
  }

  /** Completes with the operation's final state (completed, error or cancelled), however long it takes. */
  public Future<Operation> whenFinished(String operationId) {
    Promise<Operation> promise = Promise.promise();
    Operation[] last = new Operation[1];
    updates(operationId)
        .exceptionHandler(promise::tryFail)
        .endHandler(v -> {
          if (last[0] != null && last[0].isFinished()) {
            promise.tryComplete(last[0]);
          } else {
            // Removed before we saw it finish: ask once more (fails with not_found if it is gone).
            get(operationId).onComplete(promise);
          }
        })
        .handler(op -> last[0] = op);
    return promise.future();
  }

  // ------------------------------------------------------------------ helpers

  private Future<JsonObject> request(String address, JsonObject body) {
    return vertx.eventBus().<JsonObject>request(address, body, requestOptions)
        .map(Message::body)
        .recover(err -> Future.failedFuture(Failures.toHoist(err)));
  }

  private static JsonObject idOf(String operationId) {
    return new JsonObject().put(OPERATION_ID, Objects.requireNonNull(operationId, "operationId"));
  }

  private static <T> List<T> listOf(JsonArray array, Function<JsonObject, T> view) {
    if (array == null) {
      return List.of();
    }
    List<T> out = new ArrayList<>(array.size());
    for (int i = 0; i < array.size(); i++) {
      out.add(view.apply(array.getJsonObject(i)));
    }
    return Collections.unmodifiableList(out);
  }
}
