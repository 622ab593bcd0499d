package dev.hoist.download;

import static dev.hoist.support.TestSupport.await;

import dev.hoist.support.FaultHub;
import io.vertx.core.Vertx;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.io.TempDir;

/**
 * What every download test stands on: a data dir, a fault-injecting hub over its own directory,
 * the harness that drives Hoist against it, and after each test the check that every blob in the
 * cache matches its hash and nothing partial sits under a final name.
 */
abstract class DownloadFixture {

  @TempDir
  Path dataDir;
  @TempDir
  Path hubDir;
  Vertx vertx;
  DownloadHarness h;
  FaultHub hub;

  @BeforeEach
  void setUp() {
    vertx = Vertx.vertx();
    h = new DownloadHarness(vertx, dataDir, hubDir);
    hub = h.startHub();
  }

  @AfterEach
  void tearDown() throws Exception {
    try {
      h.assertCacheIntact();
    } finally {
      await(vertx.close());
    }
  }
}
