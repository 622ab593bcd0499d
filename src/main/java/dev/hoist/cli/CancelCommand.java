package dev.hoist.cli;

import io.vertx.core.json.JsonObject;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Parameters;

/** {@code hoist cancel ID}. */
@Command(name = "cancel", description = "Stop an operation in any stage (downloaded files are kept for a retry).")
final class CancelCommand implements Callable<Integer> {

  @Mixin
  ServerOptions server;

  @Parameters(index = "0", paramLabel = "ID", description = "The operation id")
  String id;

  @Override
  public Integer call() {
    try (ServerApi api = server.open()) {
      JsonObject op = api.post("/api/llm/progress/" + Paths.segment(id) + "/cancel", null);
      System.out.println("cancelled: " + op.getString("message") + " (operation " + id + ")");
      return HoistCli.EXIT_OK;
    }
  }
}
