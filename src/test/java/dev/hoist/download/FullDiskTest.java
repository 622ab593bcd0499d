package dev.hoist.download;

import static dev.hoist.download.DownloadHarness.WEIGHTS;
import static dev.hoist.download.DownloadHarness.logs;
import static dev.hoist.download.DownloadHarness.sha256;
import static dev.hoist.support.TestSupport.await;
import static dev.hoist.support.TestSupport.waitUntil;
import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.hoist.HoistConfig;
import dev.hoist.support.FaultHub;
import dev.hoist.support.FaultHub.Answer;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The model cache on a volume that is full, for real: a small tmpfs mounted as HF_HUB_CACHE (the
 * tests run as root in their container; without the right to mount, they are skipped and say why).
 * A download that cannot fit is refused before a byte is written; a disk that fills up under a
 * download ends that operation with a clear error, while a model already in the cache still loads
 * and what was stored before stays sound; with room again, the download resumes.
 */
class FullDiskTest {

  @TempDir
  Path dataDir;
  @TempDir
  Path hubDir;
  @TempDir
  Path mountParent;
  private Path cache;
  private boolean mounted;
  private Vertx vertx;
  private DownloadHarness h;
  private FaultHub hub;

  @BeforeEach
  void setUp() {
    vertx = Vertx.vertx();
    h = new DownloadHarness(vertx, dataDir, hubDir);
    hub = h.startHub();
    cache = mountParent.resolve("cache");
    h.cacheDir = cache;
  }

  @AfterEach
  void tearDown() throws Exception {
    try {
      if (h.hoist != null) {
        h.stopHoist();
      }
      if (mounted) {
        h.assertCacheIntact(cache);
      }
    } finally {
      await(vertx.close());
      if (mounted) {
        run("umount", cache.toString());
      }
    }
  }

  /** Mounts a tmpfs of {@code size} (as mount(8) writes it) at the cache; skips the test if this process may not. */
  private void mountTmpfs(String size) throws Exception {
    Files.createDirectories(cache);
    String uid = String.valueOf(new com.sun.security.auth.module.UnixSystem().getUid());
    assumeTrue(uid.equals("0"), "mounting a tmpfs to fill needs root; running as uid " + uid);
    String out = run("mount", "-t", "tmpfs", "-o", "size=" + size, "tmpfs", cache.toString());
    assumeTrue(out.isEmpty(), "cannot mount a tmpfs here: " + out);
    mounted = true;
    assertThat(Files.getFileStore(cache).type()).isEqualTo("tmpfs");
  }

  /** Runs a command; "" if it succeeded, else its output and exit status. */
  private static String run(String... command) throws Exception {
    Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes());
    assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
    return p.exitValue() == 0 ? "" : String.join(" ", command) + ": exit " + p.exitValue() + ": " + out.trim();
  }

  private JsonObject hoistOnTheMount() {
    return new JsonObject().put(HoistConfig.HF_HUB_CACHE, cache.toString()).put(HoistConfig.DOWNLOAD_RETRIES, 1);
  }

  /** Writes zeros into the volume until it is full; returns the file. */
  private Path fill() throws IOException {
    Path filler = cache.resolve("filler");
    byte[] mib = new byte[1 << 20];
    try (OutputStream out = Files.newOutputStream(filler)) {
      while (true) {
        out.write(mib);
      }
    } catch (IOException full) {
      assertThat(full.getMessage()).contains("No space left");
    }
    return filler;
  }

  private static List<String> listing(Path dir) throws IOException {
    try (Stream<Path> all = Files.walk(dir)) {
      return new ArrayList<>(all.map(p -> dir.relativize(p).toString()).sorted().toList());
    }
  }

  @Test
  void aDownloadThatCannotFitIsRefusedBeforeAnythingIsWrittenAndACachedModelStillLoads() throws Exception {
    mountTmpfs("80m");
    h.repo("test/big");
    h.startHoist(hoistOnTheMount());
    // A model in the cache before the volume shrinks to 8 MiB: it needs no room to load again.
    DownloadHarness.Healthy before = h.healthyAlongside();
    before.assertUnharmed();
    assertThat(run("mount", "-o", "remount,size=8m", cache.toString())).isEmpty();
    List<String> filesBefore = listing(cache);

    String id = h.start("test/big");
    JsonObject again = h.loadAndWait(before.repo);
    JsonObject op = h.finish(id);

    assertThat(op.getString("status")).isEqualTo("error");
    assertThat(op.getJsonObject("error").getString("code")).isEqualTo("insufficient_disk");
    assertThat(op.getJsonObject("error").getBoolean("retryable")).isFalse();
    assertThat(op.getString("message")).startsWith("insufficient disk space: need ").contains("(with a margin of 64.0 MiB)")
        .contains("free at " + cache);
    assertThat(hub.seen()).as("no file was requested").isEmpty();
    assertThat(listing(cache)).as("nothing was created").isEqualTo(filesBefore);
    assertThat(again.getString("status")).as("the cached model loaded beside the refusal: %s", logs(again)).isEqualTo("completed");
    assertThat(logs(again)).contains("already in the cache");
    before.assertUnharmed();
  }

  @Test
  void aDiskFillingUpMidDownloadFailsThatOperationClearlyAndTheRestCarriesOn() throws Exception {
    mountTmpfs("72m");
    h.repo("test/filling");
    byte[] weights = DownloadHarness.defaultWeights();
    String sha = sha256(weights);
    hub.on(WEIGHTS, (req, n) -> Answer.normal().rate(1 << 20));
    h.startHoist(hoistOnTheMount());
    DownloadHarness.Healthy before = h.healthyAlongside();
    before.assertUnharmed();

    String id = h.start("test/filling");
    waitUntil(Duration.ofSeconds(20), () -> hub.bytesSent(WEIGHTS) >= 256 << 10);
    Path filler = fill();
    JsonObject again = h.loadAndWait(before.repo);
    JsonObject op = h.finish(id);
    long sentWhenItFailed = hub.bytesSent(WEIGHTS);

    assertThat(op.getString("status")).as("logs %s", logs(op)).isEqualTo("error");
    assertThat(op.getJsonObject("error").getString("code")).isEqualTo("insufficient_disk");
    assertThat(op.getString("message")).isEqualTo("insufficient disk space while writing to the cache: No space left on device");
    assertThat(sentWhenItFailed).as("the connection is dropped at the failed write, not read to the end").isLessThan(weights.length);
    assertThat(h.blob("test/filling", sha)).doesNotExist();
    assertThat(again.getString("status")).as("a cached model loads while the disk is full: %s", logs(again)).isEqualTo("completed");
    before.assertUnharmed();
    h.assertCacheIntact(cache);

    // Room again: the same model downloads, keeping what it had.
    Files.delete(filler);
    JsonObject retried = h.loadAndWait("test/filling");
    assertThat(retried.getString("status")).as("logs %s", logs(retried)).isEqualTo("completed");
    assertThat(sha256(Files.readAllBytes(h.blob("test/filling", sha)))).isEqualTo(sha);
    assertThat(hub.bytesSent(WEIGHTS)).as("resumed, not fetched twice").isLessThan(2L * weights.length);
  }
}
