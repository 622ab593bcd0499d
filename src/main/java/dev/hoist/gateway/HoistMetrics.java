package dev.hoist.gateway;

import static dev.hoist.contract.EventBusContract.*;

import dev.hoist.contract.OperationStatus;
import dev.hoist.contract.Timeline;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.vertx.core.json.JsonObject;
import io.vertx.micrometer.backends.BackendRegistries;
import java.util.HashMap;
import java.util.Map;
import java.util.function.IntSupplier;

/**
 * Hoist's own metrics, derived from the registry's published changes, in the same Prometheus
 * registry as Vert.x's (event bus, HTTP, pools) when Hoist's Vert.x was built with metrics on.
 */
final class HoistMetrics {

  private final PrometheusMeterRegistry registry;
  private final Map<String, String> statusById = new HashMap<>();
  private final Map<String, Long> downloadedById = new HashMap<>();
  private final Map<String, double[]> rateById = new HashMap<>(); // {download B/s, load B/s}
  private final Counter bytesDownloaded;
  private final DistributionSummary downloadSeconds;
  private final DistributionSummary loadSeconds;
  private final Map<String, Counter> finished = new HashMap<>();

  HoistMetrics(IntSupplier webSocketConnections) {
    MeterRegistry shared = BackendRegistries.getDefaultNow();
    registry = shared instanceof PrometheusMeterRegistry ? (PrometheusMeterRegistry) shared
        : new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    for (OperationStatus status : OperationStatus.values()) {
      Gauge.builder("hoist_operations", statusById, m -> m.values().stream().filter(status.wireName()::equals).count())
          .description("Operations in the live list, by status").tag("status", status.wireName()).register(registry);
    }
    bytesDownloaded = Counter.builder("hoist_downloaded_bytes").description("Bytes written to the model cache")
        .baseUnit("bytes").register(registry);
    downloadSeconds = DistributionSummary.builder("hoist_download_duration_seconds")
        .description("Download stage duration of completed operations").baseUnit("seconds")
        .publishPercentileHistogram().register(registry);
    loadSeconds = DistributionSummary.builder("hoist_load_duration_seconds")
        .description("Load stage duration of completed operations").baseUnit("seconds")
        .publishPercentileHistogram().register(registry);
    Gauge.builder("hoist_download_rate_bytes_per_second", rateById, m -> m.values().stream().mapToDouble(r -> r[0]).sum())
        .description("Current download rate, all operations").register(registry);
    Gauge.builder("hoist_load_rate_bytes_per_second", rateById, m -> m.values().stream().mapToDouble(r -> r[1]).sum())
        .description("Current load (paging) rate, all operations").register(registry);
    Gauge.builder("hoist_websocket_connections", webSocketConnections, IntSupplier::getAsInt)
        .description("Open WebSocket connections").register(registry);
  }

  /** One change from {@code hoist.ops.updates}. Runs on the gateway's event loop. */
  void record(JsonObject change) {
    String id = change.getString(OPERATION_ID);
    if (change.getBoolean(REMOVED, false)) {
      statusById.remove(id);
      downloadedById.remove(id);
      rateById.remove(id);
      return;
    }
    String status = change.getString(STATUS);
    String before = statusById.put(id, status);
    JsonObject stage = change.getJsonObject(STAGE, new JsonObject());
    double rate = stage.getDouble(BYTES_PER_SECOND, 0.0);
    rateById.put(id, new double[] {
        OperationStatus.DOWNLOADING.wireName().equals(status) ? rate : 0,
        OperationStatus.LOADING.wireName().equals(status) ? rate : 0});
    if (OperationStatus.DOWNLOADING.wireName().equals(status)) {
      long done = stage.getLong(BYTES_DONE, 0L);
      long last = downloadedById.getOrDefault(id, -1L);
      if (last >= 0 && done > last) {
        bytesDownloaded.increment(done - last);
      }
      downloadedById.put(id, done);
    }
    boolean justFinished = !status.equals(before) && OperationStatus.fromWire(status).isFinished();
    if (justFinished) {
      finished.computeIfAbsent(status, s -> Counter.builder("hoist_operations_finished")
          .description("Operations that ended, by how").tag("status", s).register(registry)).increment();
      rateById.remove(id);
      downloadedById.remove(id);
      if (OperationStatus.COMPLETED.wireName().equals(status)) {
        Double download = Timeline.span(change, "downloading", "loading");
        Double load = Timeline.span(change, "loading", "finalizing");
        if (download != null) {
          downloadSeconds.record(download);
        }
        if (load != null) {
          loadSeconds.record(load);
        }
      }
    }
  }

  String scrape() {
    return registry.scrape();
  }
}
