package dev.hoist.download;

import static dev.hoist.support.TestSupport.await;
import static dev.hoist.support.TestSupport.waitUntil;
import static org.assertj.core.api.Assertions.assertThat;

import dev.hoist.Hoist;
import dev.hoist.HoistConfig;
import dev.hoist.support.TestHub;
import dev.hoist.support.TestSupport;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import io.vertx.core.net.SelfSignedCertificate;
import io.vertx.ext.web.client.WebClient;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The hub client over HTTPS checks the certificate chain and the host name: an untrusted certificate
 * and a certificate for another name both fail the operation before any byte is kept; with the
 * hub's CA configured (HOIST_HUB_CA_FILE) and the right name, the same hub works.
 */
class HubTlsTest {

  /** Not in the catalog, so it is fetched from HF_ENDPOINT: demo-tiny's files under another name. */
  private static final String MODEL = "test/tls";

  @TempDir
  Path dataDir;
  @TempDir
  Path hubDir;
  private final Vertx vertx = Vertx.vertx();
  private SelfSignedCertificate certificate;
  private TestHub hub;
  private Hoist.Deployment hoist;

  @BeforeEach
  void startHub() throws Exception {
    // A certificate for "localhost" only: reaching the same server as 127.0.0.1 is a name mismatch.
    certificate = SelfSignedCertificate.create("localhost");
    Path repo = Files.createDirectories(hubDir.resolve(MODEL));
    try (var files = Files.list(TestSupport.sharedMirror().resolve("hoist/demo-tiny"))) {
      for (Path f : files.toList()) {
        Files.copy(f, repo.resolve(f.getFileName().toString()));
      }
    }
    hub = await(TestHub.startTls(vertx, hubDir, certificate.keyCertOptions(), "localhost"));
  }

  @AfterEach
  void tearDown() {
    certificate.delete();
    await(vertx.close());
  }

  @Test
  void anUntrustedCertificateFailsTheLoadAndKeepsNothing() throws Exception {
    JsonObject op = load(hub.endpoint(), null);
    assertThat(op.getString("status")).isEqualTo("error");
    assertThat(op.getJsonObject("error").getString("code")).isEqualTo("hub_unreachable");
    assertThat(op.getString("message")).contains("the hub's certificate is not trusted").contains("HOIST_HUB_CA_FILE");
    assertThat(hub.requestedBytes()).isZero();
    assertThat(Files.exists(dataDir.resolve("hub/models--test--tls/blobs"))).isFalse();
  }

  @Test
  void aTrustedCertificateForAnotherNameFailsTheLoad() throws Exception {
    String byAddress = hub.endpoint().replace("localhost", "127.0.0.1");
    JsonObject op = load(byAddress, certificate.certificatePath());
    assertThat(op.getString("status")).isEqualTo("error");
    assertThat(op.getJsonObject("error").getString("code")).isEqualTo("hub_unreachable");
    assertThat(op.getString("message")).containsIgnoringCase("127.0.0.1");
    assertThat(hub.requestedBytes()).isZero();
  }

  @Test
  void theHubsOwnCaAndTheRightNameLoad() throws Exception {
    JsonObject op = load(hub.endpoint(), certificate.certificatePath());
    assertThat(op.getString("status")).as("logs %s", op.getJsonArray("logs")).isEqualTo("completed");
    assertThat(hub.requestedBytes()).isPositive();
  }

  private JsonObject load(String endpoint, String caFile) throws Exception {
    JsonObject config = TestSupport.config(dataDir)
        .put(HoistConfig.HF_ENDPOINT, endpoint)
        .put(HoistConfig.MIRROR_ENABLED, false)
        .put(HoistConfig.DOWNLOAD_RETRIES, 0);
    if (caFile != null) {
      config.put(HoistConfig.HUB_CA_FILE, caFile);
    }
    hoist = await(Hoist.deploy(vertx, config));
    WebClient http = WebClient.create(vertx);
    String id = await(http.post(hoist.httpPort(), "127.0.0.1", "/api/llm/load").sendJsonObject(new JsonObject().put("model_name", MODEL)))
        .bodyAsJsonObject().getString("operation_id");
    JsonObject[] op = new JsonObject[1];
    waitUntil(Duration.ofSeconds(60), () -> (op[0] = await(http.get(hoist.httpPort(), "127.0.0.1", "/api/llm/progress/" + id).send())
        .bodyAsJsonObject()).getString("status").matches("completed|error|cancelled"));
    return op[0];
  }
}
