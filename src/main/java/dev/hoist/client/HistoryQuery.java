package dev.hoist.client;

import static dev.hoist.contract.EventBusContract.STATUS;

import dev.hoist.contract.OperationStatus;
import io.vertx.core.json.JsonObject;

/**
 * Which finished and running operations {@link HoistClient#history(HistoryQuery)} returns from the
 * database, newest first: {@code HistoryQuery.all().model("demo-tiny").status(COMPLETED).limit(20)}.
 */
public final class HistoryQuery {

  private final String model;
  private final OperationStatus status;
  private final Integer limit;

  private HistoryQuery(String model, OperationStatus status, Integer limit) {
    this.model = model;
    this.status = status;
    this.limit = limit;
  }

  /** Every operation, up to the registry's default limit (50). */
  public static HistoryQuery all() {
    return new HistoryQuery(null, null, null);
  }

  /** Only operations for this model name (as it was asked for). */
  public HistoryQuery model(String model) {
    return new HistoryQuery(model, status, limit);
  }

  public HistoryQuery status(OperationStatus status) {
    return new HistoryQuery(model, status, limit);
  }

  /** At most this many (the registry caps it). */
  public HistoryQuery limit(int limit) {
    return new HistoryQuery(model, status, limit);
  }

  JsonObject toRequest() {
    JsonObject query = new JsonObject();
    if (model != null) {
      query.put("model", model);
    }
    if (status != null) {
      query.put(STATUS, status.wireName());
    }
    if (limit != null) {
      query.put("limit", limit);
    }
    return query;
  }
}
