package dev.hoist.download;

import static dev.hoist.download.DownloadHarness.WEIGHTS;
import static dev.hoist.download.DownloadHarness.logs;
import static dev.hoist.download.DownloadHarness.sha256;
import static org.assertj.core.api.Assertions.assertThat;

import dev.hoist.HoistConfig;
import dev.hoist.support.FaultHub.Answer;
import io.vertx.core.json.JsonObject;
import java.nio.file.Files;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Which reader brings a file's bytes: Hoist's own (DirectGet) by default, Vert.x's HTTP client when
 * HOIST_DOWNLOAD_DIRECT is off, and the client for a hub whose file bodies have no Content-Length
 * (the request is asked again through it, and that hub's later requests go there at once). The hub
 * tells them apart by their User-Agent (Hoist's reader sends one, the client none). Ranged, so
 * several requests per file.
 */
class FileReadersTest extends DownloadFixture {

  private static final int CHUNK = 1 << 20;

  private String sha;
  private int ranges;

  @BeforeEach
  void repo() throws Exception {
    byte[] weights = DownloadHarness.weights(4 << 20, 21);
    sha = sha256(weights);
    ranges = (weights.length + CHUNK - 1) / CHUNK;
    h.repo("test/readers", weights);
  }

  private JsonObject ranged() {
    return new JsonObject().put(HoistConfig.DOWNLOAD_CHUNK_BYTES, CHUNK).put(HoistConfig.DOWNLOAD_CONNECTIONS_PER_FILE, 2);
  }

  private List<String> agents() {
    return hub.seen(WEIGHTS).stream().map(s -> s.userAgent).toList();
  }

  private void completedAndVerified(JsonObject op) throws Exception {
    assertThat(op.getString("status")).as("logs %s", logs(op)).isEqualTo("completed");
    assertThat(sha256(Files.readAllBytes(h.blob("test/readers", sha)))).isEqualTo(sha);
  }

  @Test
  void filesComeThroughHoistsOwnReaderByDefault() throws Exception {
    h.startHoist(ranged());

    completedAndVerified(h.loadAndWait("test/readers"));
    assertThat(agents()).hasSize(ranges).allMatch(a -> a != null && a.startsWith("hoist/"));
  }

  @Test
  void theHttpClientReadsThemWhenTheSwitchIsOff() throws Exception {
    h.startHoist(ranged().put(HoistConfig.DOWNLOAD_DIRECT, false));

    completedAndVerified(h.loadAndWait("test/readers"));
    assertThat(agents()).hasSize(ranges).allMatch(a -> a == null || !a.startsWith("hoist/"));
  }

  @Test
  void aHubThatSendsChunkedBodiesIsReadThroughTheHttpClient() throws Exception {
    hub.on(WEIGHTS, (req, n) -> Answer.normal().chunked());
    h.startHoist(ranged());

    JsonObject op = h.loadAndWait("test/readers");
    completedAndVerified(op);
    List<String> agents = agents();
    // The first request is asked again through the client; every later one goes there at once.
    assertThat(agents.get(0)).startsWith("hoist/");
    assertThat(agents.subList(1, agents.size())).hasSize(ranges).allMatch(a -> a == null || !a.startsWith("hoist/"));
    assertThat(logs(op)).doesNotContain("Retrying");
  }
}
