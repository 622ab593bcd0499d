package dev.hoist.cli;

import io.vertx.core.json.JsonObject;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Parameters;

/** {@code hoist unload MODEL}. */
@Command(name = "unload", description = "Release a model that is resident in memory.")
final class UnloadCommand implements Callable<Integer> {

  @Mixin
  ServerOptions server;

  @Parameters(index = "0", paramLabel = "MODEL", description = "A catalog alias or hub repo id")
  String model;

  @Override
  public Integer call() {
    try (ServerApi api = server.open()) {
      JsonObject result = api.post("/api/llm/models/" + Paths.segment(model) + "/unload", null);
      System.out.println("unloaded: " + model + " (" + result.getString("repo", model) + "), released "
          + Format.bytes(result.getLong("bytes_released", 0L)));
      return HoistCli.EXIT_OK;
    }
  }
}
