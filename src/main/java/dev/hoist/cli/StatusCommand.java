package dev.hoist.cli;

import dev.hoist.client.Operation;
import dev.hoist.contract.HoistException;
import io.vertx.core.json.JsonObject;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code hoist status ID}: one operation in detail. */
@Command(name = "status", description = "Show one operation: state, stage numbers, error, summary and the last log lines.")
final class StatusCommand implements Callable<Integer> {

  @Mixin
  ServerOptions server;

  @Parameters(index = "0", paramLabel = "ID", description = "The operation id")
  String id;

  @Option(names = "--logs", paramLabel = "N", defaultValue = "10", description = "Log lines to show (default 10)")
  int logLines;

  @Option(names = "--json", description = "Print the server's JSON")
  boolean json;

  @Override
  public Integer call() {
    try (ServerApi api = server.open()) {
      JsonObject body = api.get("/api/llm/progress/" + Paths.segment(id));
      if (json) {
        System.out.println(body.encodePrettily());
        return HoistCli.EXIT_OK;
      }
      Operation op = new Operation(body);
      StringBuilder out = new StringBuilder();
      field(out, "Operation", op.id());
      field(out, "Model", op.modelName() + " (" + op.repo() + "@" + op.revision()
          + (op.commit() == null ? "" : ", commit " + op.commit()) + ")");
      field(out, "Status", op.status().wireName() + " " + op.progress() + "% (attempt " + op.attempt() + ")"
          + (op.queuePosition() == null ? "" : ", queue position " + op.queuePosition()));
      String facts = Format.stageFacts(op);
      Operation.Stage stage = op.stage();
      if (stage.filesTotal() > 0) {
        facts += (facts.isEmpty() ? "" : "  ") + "files " + stage.filesDone() + "/" + stage.filesTotal();
      }
      if (!facts.isEmpty()) {
        field(out, "Stage", stage.name() + "  " + facts);
      }
      field(out, "Message", op.message());
      HoistException error = op.error();
      if (error != null) {
        field(out, "Error", error.getMessage() + " [" + error.code().wireName() + (error.retryable() ? ", retryable" : "") + "]");
      }
      String summary = Format.summary(op.summary());
      if (!summary.isEmpty()) {
        field(out, "Summary", summary);
      }
      field(out, "Created", String.valueOf(op.createdAt()));
      field(out, "Updated", op.updatedAt() + " (" + ListCommand.age(op.updatedAt()) + ")");
      List<String> logs = op.logs();
      if (logLines > 0 && !logs.isEmpty()) {
        out.append("Logs:\n");
        logs.subList(Math.max(0, logs.size() - logLines), logs.size()).forEach(line -> out.append("  ").append(line).append('\n'));
      }
      System.out.print(out);
      return HoistCli.EXIT_OK;
    }
  }

  private static void field(StringBuilder out, String name, String value) {
    out.append(String.format("%-10s ", name)).append(value == null ? "" : value).append('\n');
  }
}
