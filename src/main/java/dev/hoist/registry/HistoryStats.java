package dev.hoist.registry;

import dev.hoist.contract.Timeline;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/** Per-model statistics over finished operations: loads, success rate, median durations, throughput. */
final class HistoryStats {

  private HistoryStats() {
  }

  static JsonObject compute(List<JsonObject> finished) {
    Map<String, List<JsonObject>> byModel = new TreeMap<>();
    for (JsonObject op : finished) {
      byModel.computeIfAbsent(op.getString("model_name"), k -> new ArrayList<>()).add(op);
    }
    JsonArray models = new JsonArray();
    byModel.forEach((model, ops) -> {
      int completed = 0;
      int failed = 0;
      int cancelled = 0;
      List<Double> downloads = new ArrayList<>();
      List<Double> loads = new ArrayList<>();
      double bytes = 0;
      double seconds = 0;
      for (JsonObject op : ops) {
        switch (op.getString("status")) {
          case "completed": completed++; break;
          case "error": failed++; break;
          case "cancelled": cancelled++; break;
          default: break;
        }
        Double download = Timeline.span(op, "downloading", "loading");
        Double load = Timeline.span(op, "loading", "finalizing");
        if (download != null && "completed".equals(op.getString("status"))) {
          downloads.add(download);
          long modelBytes = op.getJsonObject("internal", new JsonObject()).getLong("model_bytes", 0L);
          if (modelBytes > 0 && download > 0) {
            bytes += modelBytes;
            seconds += download;
          }
        }
        if (load != null && "completed".equals(op.getString("status"))) {
          loads.add(load);
        }
      }
      models.add(new JsonObject()
          .put("model_name", model)
          .put("loads", ops.size())
          .put("completed", completed)
          .put("failed", failed)
          .put("cancelled", cancelled)
          .put("success_rate", ops.isEmpty() ? null : Math.round(1000.0 * completed / ops.size()) / 1000.0)
          .put("median_download_seconds", median(downloads))
          .put("median_load_seconds", median(loads))
          .put("average_bytes_per_second", seconds > 0 ? Math.round(bytes / seconds) : null));
    });
    return new JsonObject().put("models", models);
  }

  private static Double median(List<Double> values) {
    if (values.isEmpty()) {
      return null;
    }
    List<Double> sorted = new ArrayList<>(values);
    Collections.sort(sorted);
    int n = sorted.size();
    double m = n % 2 == 1 ? sorted.get(n / 2) : (sorted.get(n / 2 - 1) + sorted.get(n / 2)) / 2;
    return Math.round(m * 1000) / 1000.0;
  }
}
