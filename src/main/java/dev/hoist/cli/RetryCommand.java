package dev.hoist.cli;

import io.vertx.core.json.JsonObject;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code hoist retry ID}: runs a failed or cancelled operation again and follows it. */
@Command(name = "retry", description = "Run a failed or cancelled operation again (same id, from what is on disk) and follow it.")
final class RetryCommand implements Callable<Integer> {

  @Mixin
  ServerOptions server;

  @Parameters(index = "0", paramLabel = "ID", description = "The operation id")
  String id;

  @Option(names = {"-d", "--detach"}, description = "Return at once instead of following it")
  boolean detach;

  @Override
  public Integer call() {
    try (ServerApi api = server.open()) {
      JsonObject op = api.post("/api/llm/progress/" + Paths.segment(id) + "/retry", null);
      System.out.println("Retrying " + op.getString("model_name") + " (operation " + id + ", attempt " + op.getInteger("attempt") + ")");
      return detach ? HoistCli.EXIT_OK : Follow.follow(api, id, server.interactive());
    }
  }
}
