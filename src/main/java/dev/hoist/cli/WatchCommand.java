package dev.hoist.cli;

import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Parameters;

/** {@code hoist watch [ID]}: every operation live until Ctrl-C, or one until it ends. */
@Command(name = "watch", description = "Watch every operation live until Ctrl-C, or one (ID) until it ends (exit 0 if completed, else 1).")
final class WatchCommand implements Callable<Integer> {

  @Mixin
  ServerOptions server;

  @Parameters(index = "0", arity = "0..1", paramLabel = "ID", description = "One operation id; all when left out")
  String id;

  @Override
  public Integer call() {
    try (ServerApi api = server.open()) {
      if (id != null && !id.equals("*")) {
        return Follow.follow(api, id, server.interactive());
      }
      return new OperationsBoard(server.interactive(), System.out).run(api);
    }
  }
}
