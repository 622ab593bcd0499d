package dev.hoist.cli;

import dev.hoist.client.Operation;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code hoist ls}: the operations as a table (the live list, or the history). */
@Command(name = "ls", description = "List operations: the live list, newest first, or with --history the database.")
final class ListCommand implements Callable<Integer> {

  @Mixin
  ServerOptions server;

  @Option(names = "--history", description = "Read the history (finished operations too, after cleanup)")
  boolean history;

  @Option(names = "--model", description = "With --history: only this model name")
  String model;

  @Option(names = "--status", description = "With --history: only this status (completed, error, cancelled, ...)")
  String status;

  @Option(names = "--limit", description = "With --history: at most this many (default 50)")
  Integer limit;

  @Option(names = "--json", description = "Print the server's JSON")
  boolean json;

  @Override
  public Integer call() {
    try (ServerApi api = server.open()) {
      String path = history
          ? "/api/llm/history?" + (Paths.param("model", model) + Paths.param("status", status) + Paths.param("limit", limit)).replaceFirst("^&", "")
          : "/api/llm/progress";
      JsonObject body = api.get(path);
      if (json) {
        System.out.println(body.encodePrettily());
        return HoistCli.EXIT_OK;
      }
      JsonArray ops = body.getJsonArray("operations", new JsonArray());
      if (ops.isEmpty()) {
        System.out.println(history ? "No operations in the history." : "No operations. Start one with: hoist load demo-tiny");
        return HoistCli.EXIT_OK;
      }
      List<List<String>> rows = new ArrayList<>();
      for (int i = 0; i < ops.size(); i++) {
        Operation op = new Operation(ops.getJsonObject(i));
        rows.add(List.of(op.id(), Format.abbreviate(op.modelName(), 30), op.status().wireName(), op.progress() + "%",
            age(op.updatedAt()), Format.abbreviate(op.message(), 70)));
      }
      System.out.print(Format.table(List.of("ID", "MODEL", "STATUS", "PROGRESS", "UPDATED", "MESSAGE"), rows));
      return HoistCli.EXIT_OK;
    }
  }

  static String age(Instant at) {
    if (at == null) {
      return "";
    }
    long seconds = Math.max(0, Duration.between(at, Instant.now()).getSeconds());
    return Format.duration(seconds) + " ago";
  }
}
