package dev.hoist.cli;

import dev.hoist.client.LoadOptions;
import io.vertx.core.json.JsonObject;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code hoist load MODEL}: starts a load and follows it to the end with a progress bar. */
@Command(name = "load", description = "Load a model and follow it until it is completed, fails or is cancelled.")
final class LoadCommand implements Callable<Integer> {

  @Mixin
  ServerOptions server;

  @Parameters(index = "0", paramLabel = "MODEL", description = "A catalog alias (see: hoist models) or a hub repo id owner/name[@revision]")
  String model;

  @Option(names = "--revision", description = "A branch, tag or commit instead of the catalog's")
  String revision;

  @Option(names = "--include", split = ",", paramLabel = "GLOB", description = "Only the repo files matching these globs")
  List<String> include;

  @Option(names = "--quantization", description = "GGUF repos: the quantization to pick, e.g. Q4_K_M")
  String quantization;

  @Option(names = "--file", description = "GGUF repos: the exact file to load")
  String file;

  @Option(names = "--max-bytes-per-second", paramLabel = "N", description = "Bandwidth limit for this download (at least 1024)")
  Long maxBytesPerSecond;

  @Option(names = "--priority", description = "-100..100; higher runs first when loads queue")
  Integer priority;

  @Option(names = "--node", description = "In a fleet: the node to load on (default: the one with the most memory free)")
  String node;

  @Option(names = "--nodes", split = ",", paramLabel = "NODE", description = "In a fleet: several nodes (comma-separated), or 'all'; one parent operation")
  List<String> nodes;

  @Option(names = {"-d", "--detach"}, description = "Print the operation id and return without following it")
  boolean detach;

  @Override
  public Integer call() {
    try (ServerApi api = server.open()) {
      JsonObject started = api.post("/api/llm/load", options().toRequest(model));
      String id = started.getString("operation_id");
      System.out.println(started.getString("message") + " (operation " + id + ")");
      if (detach) {
        System.out.println("Follow it with: hoist watch " + id);
        return HoistCli.EXIT_OK;
      }
      return Follow.follow(api, id, server.interactive());
    }
  }

  private LoadOptions options() {
    LoadOptions.Builder options = LoadOptions.builder().revision(revision).quantization(quantization).file(file);
    if (include != null) {
      options.include(include);
    }
    if (maxBytesPerSecond != null) {
      options.maxBytesPerSecond(maxBytesPerSecond);
    }
    if (priority != null) {
      options.priority(priority);
    }
    if (node != null) {
      options.node(node);
    }
    if (nodes != null) {
      if (nodes.size() == 1 && "all".equals(nodes.get(0))) {
        options.allNodes();
      } else {
        options.nodes(nodes);
      }
    }
    return options.build();
  }
}
