package dev.hoist.cli;

import dev.hoist.client.CatalogModel;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code hoist models}: the catalog, with what is downloaded and loaded. */
@Command(name = "models", description = "List the model catalog: aliases, repos, sizes, and whether each is downloaded and loaded.")
final class ModelsCommand implements Callable<Integer> {

  @Mixin
  ServerOptions server;

  @Option(names = "--json", description = "Print the server's JSON")
  boolean json;

  @Override
  public Integer call() {
    try (ServerApi api = server.open()) {
      JsonObject body = api.get("/api/llm/models");
      if (json) {
        System.out.println(body.encodePrettily());
        return HoistCli.EXIT_OK;
      }
      JsonArray models = body.getJsonArray("models", new JsonArray());
      List<List<String>> rows = new ArrayList<>();
      for (int i = 0; i < models.size(); i++) {
        CatalogModel m = new CatalogModel(models.getJsonObject(i));
        rows.add(List.of(m.name(), m.repo() + "@" + m.revision(), nullToEmpty(m.sizeHint()), yesNo(m.downloaded()),
            yesNo(m.loaded()), Format.abbreviate(m.description(), 60)));
      }
      System.out.print(Format.table(List.of("NAME", "REPO", "SIZE", "DOWNLOADED", "LOADED", "DESCRIPTION"), rows));
      return HoistCli.EXIT_OK;
    }
  }

  private static String yesNo(Boolean value) {
    return value == null ? "?" : value ? "yes" : "no";
  }

  private static String nullToEmpty(String text) {
    return text == null ? "" : text;
  }
}
