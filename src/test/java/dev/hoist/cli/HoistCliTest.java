package dev.hoist.cli;

import static dev.hoist.support.TestSupport.await;
import static org.assertj.core.api.Assertions.assertThat;

import dev.hoist.Hoist;
import dev.hoist.support.TestSupport;
import io.vertx.core.Vertx;
import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/**
 * The command-line client as a user runs it: a separate JVM ({@code java -cp ... dev.hoist.Hoist
 * load demo-tiny --server ...}) against a Hoist started in this one. Its output is not a terminal,
 * so it prints plain lines.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class HoistCliTest {

  private static final Pattern OPERATION_ID = Pattern.compile("operation ([0-9a-f-]{36})");

  @TempDir
  static Path dataDir;
  @TempDir
  static Path outputDir;
  private Vertx vertx;
  private String server;

  @BeforeAll
  void start() throws Exception {
    vertx = Vertx.vertx();
    Hoist.Deployment hoist = await(Hoist.deploy(vertx, TestSupport.config(dataDir)));
    server = "http://127.0.0.1:" + hoist.httpPort();
  }

  @AfterAll
  void stop() {
    await(vertx.close());
  }

  @Test
  void loadFollowsTheOperationToCompletedAndExitsZero() throws Exception {
    // Throttled so the CLI is surely following before the download ends, however busy the machine.
    Run load = cli("load", "demo-tiny", "--max-bytes-per-second", "4000000", "--server", server);
    assertThat(load.exitCode).as(load.toString()).isZero();
    assertThat(load.stdout).contains("Model loading started for demo-tiny").contains("downloading").contains("completed");
    assertThat(load.stdout).doesNotContain("\u001b["); // no escape codes without a terminal
    String id = load.operationId();

    Run status = cli("status", id, "--server", server);
    assertThat(status.exitCode).as(status.toString()).isZero();
    assertThat(status.stdout).contains(id).contains("completed 100%").contains("safetensors");

    Run ls = cli("ls", "--server", server);
    assertThat(ls.exitCode).as(ls.toString()).isZero();
    assertThat(ls.stdout).contains("STATUS").contains(id).contains("demo-tiny");

    Run watch = cli("watch", id, "--server", server);
    assertThat(watch.exitCode).as(watch.toString()).isZero();
    assertThat(watch.stdout).contains("completed: Model demo-tiny is loaded and ready");

  }

  @Test
  void anUnknownModelPrintsTheServersMessageAndExitsNonZero() throws Exception {
    Run load = cli("load", "no-such-model", "--server", server);
    assertThat(load.exitCode).as(load.toString()).isEqualTo(HoistCli.EXIT_REFUSED);
    assertThat(load.stderr).contains("no-such-model").contains("not in the catalog");
    assertThat(load.stdout).isEmpty();
  }

  @Test
  void modelsListsTheCatalogAndAnUnreachableServerExitsThree() throws Exception {
    Run models = cli("models", "--server", server);
    assertThat(models.exitCode).as(models.toString()).isZero();
    assertThat(models.stdout).contains("demo-tiny").contains("hoist/demo-sharded@main").contains("DOWNLOADED");

    Run nobody = cli("ls", "--server", "http://127.0.0.1:9");
    assertThat(nobody.exitCode).as(nobody.toString()).isEqualTo(HoistCli.EXIT_UNAVAILABLE);
    assertThat(nobody.stderr).contains("cannot reach Hoist at http://127.0.0.1:9");
  }

  /** Runs {@code dev.hoist.Hoist ARGS} in a new JVM with this test's classpath. */
  private Run cli(String... args) throws IOException, InterruptedException {
    List<String> command = new ArrayList<>(List.of(Paths.get(System.getProperty("java.home"), "bin", "java").toString(),
        // A short-lived client: start fast rather than optimize for long runs.
        "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-cp", System.getProperty("java.class.path"), "dev.hoist.Hoist"));
    command.addAll(List.of(args));
    File out = Files.createTempFile(outputDir, "cli", ".out").toFile();
    File err = Files.createTempFile(outputDir, "cli", ".err").toFile();
    ProcessBuilder pb = new ProcessBuilder(command).redirectOutput(out).redirectError(err).redirectInput(ProcessBuilder.Redirect.PIPE);
    pb.environment().remove("HOIST_SERVER");
    pb.environment().remove("HOIST_API_TOKEN");
    Process process = pb.start();
    process.getOutputStream().close();
    if (!process.waitFor(120, TimeUnit.SECONDS)) {
      process.destroyForcibly();
      throw new AssertionError("hoist " + String.join(" ", args) + " did not finish in 120 s");
    }
    return new Run(process.exitValue(), Files.readString(out.toPath(), StandardCharsets.UTF_8), Files.readString(err.toPath(), StandardCharsets.UTF_8));
  }

  private static final class Run {
    final int exitCode;
    final String stdout;
    final String stderr;

    Run(int exitCode, String stdout, String stderr) {
      this.exitCode = exitCode;
      this.stdout = stdout;
      this.stderr = stderr;
    }

    String operationId() {
      Matcher m = OPERATION_ID.matcher(stdout);
      assertThat(m.find()).as("an operation id in %s", stdout).isTrue();
      return m.group(1);
    }

    @Override
    public String toString() {
      return "exit " + exitCode + "\n--- stdout\n" + stdout + "--- stderr\n" + stderr;
    }
  }
}
