package dev.hoist.embed;

import static dev.hoist.support.TestSupport.await;
import static org.assertj.core.api.Assertions.assertThat;

import dev.hoist.client.Operation;
import dev.hoist.contract.OperationStatus;
import dev.hoist.support.TestSupport;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.client.WebClient;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The example host application embeds Hoist without its gateway and loads a model through the typed client. */
class ExampleHostApplicationTest {

  @TempDir
  Path dataDir;

  @Test
  void deploysRegistryDownloadAndLoadWithoutTheGatewayAndLoadsDemoTiny() throws Exception {
    Vertx vertx = Vertx.vertx();
    try {
      JsonObject config = TestSupport.config(dataDir);
      ExampleHostApplication app = await(ExampleHostApplication.start(vertx, config, TestSupport.sharedMirror()));
      assertThat(app.hoist().modules()).containsExactlyInAnyOrder(
          HoistModules.Module.REGISTRY, HoistModules.Module.DOWNLOAD, HoistModules.Module.LOAD);
      assertThat(app.hoist().httpPort()).isEqualTo(-1);

      List<Operation> updates = new CopyOnWriteArrayList<>();
      Operation done = await(app.load("demo-tiny", updates::add));

      assertThat(done.status()).as("logs %s", done.logs()).isEqualTo(OperationStatus.COMPLETED);
      assertThat(updates.get(updates.size() - 1).status()).isEqualTo(OperationStatus.COMPLETED);
      for (int i = 1; i < updates.size(); i++) {
        assertThat(updates.get(i).seq()).as("seq after %s", updates.get(i - 1)).isEqualTo(updates.get(i - 1).seq() + 1);
      }
      assertThat(updates).extracting(Operation::status).contains(OperationStatus.DOWNLOADING);
      // The files came from the host's own server, and its own route still answers.
      assertThat(done.logs()).anyMatch(line -> line.contains("hoist/demo-tiny"));
      String hello = await(WebClient.create(vertx).get(app.port(), "127.0.0.1", "/hello").send()).bodyAsString();
      assertThat(hello).contains("host application");
      await(app.stop());
    } finally {
      await(vertx.close());
    }
  }
}
