package dev.hoist.load;

import static dev.hoist.contract.EventBusContract.*;
import static org.assertj.core.api.Assertions.assertThat;

import dev.hoist.HoistConfig;
import dev.hoist.format.DataSource;
import dev.hoist.format.SafetensorsDtype;
import dev.hoist.format.SafetensorsWriter;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.net.HttpURLConnection;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/**
 * Native LLM services, played by real programs (src/test/resources/native): a Python server that
 * reads the model slowly and then answers /health, and a Bash script that dies while loading.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class NativeServiceTest {

  static final Path SERVE = Path.of("src/test/resources/native/serve_model.py").toAbsolutePath();
  static final Path DIE = Path.of("src/test/resources/native/die_early.sh").toAbsolutePath();

  @TempDir
  static Path dir;
  private LoadStage stage;
  private Path model;
  private long modelSize;

  @BeforeAll
  void deploy() throws IOException {
    stage = LoadStage.deploy(new JsonObject()
        .put(HoistConfig.PROGRESS_INTERVAL_MS, 50)
        .put(HoistConfig.NATIVE_KILL_GRACE_MS, 300));
    model = dir.resolve("model.safetensors");
    new SafetensorsWriter().tensor("w", SafetensorsDtype.F16, 16 * 1024, 1024).write(model, DataSource.zeros()); // 32 MiB
    modelSize = Files.size(model);
  }

  @AfterAll
  void close() {
    stage.close();
  }

  private static JsonObject serve(String extra) {
    return new JsonObject().put("command", "python3 '" + SERVE + "' --model {path} --port {port} " + extra)
        .put("timeout_seconds", 30);
  }

  @Test
  void theServicesOutputReachesTheLogsInOrderProgressComesFromProcIoAndUnloadStopsIt() throws Exception {
    // 32 chunks of 1 MiB, 40 ms apart: ~1.3 s of reading for the sampler to watch
    String op = stage.start("native/slow-reader", List.of(model), serve("--delay-ms 40"));
    JsonObject summary = stage.awaitCompleted(op);

    List<String> logs = stage.logs(op);
    // stdout in order (stderr is another pipe: no order between the two)
    List<String> mine = stage.reports(op).stream().filter(r -> LEVEL_INFO.equals(r.getString(LOG_LEVEL)))
        .map(r -> r.getString(LOG)).filter(l -> l.startsWith("fake-llm: ")).toList();
    assertThat(mine.get(0)).startsWith("fake-llm: pid=");
    assertThat(mine).containsSubsequence("fake-llm: loading 1 file(s), " + modelSize + " bytes",
        "fake-llm: read " + modelSize + " of " + modelSize + " bytes");
    assertThat(stage.reports(op)).anyMatch(r -> "fake-llm: warming up".equals(r.getString(LOG))
        && LEVEL_WARN.equals(r.getString(LOG_LEVEL)));
    assertThat(logs.get(logs.size() - 1)).startsWith("Native service ready at http://127.0.0.1:");

    List<Long> done = stage.bytesDone(op);
    assertThat(done).isSorted();
    assertThat(done.get(done.size() - 1)).isEqualTo(modelSize);
    assertThat(stage.reports(op).stream().filter(r -> r.getValue(BYTES_TOTAL) != null)
        .map(r -> r.getLong(BYTES_TOTAL)).distinct().toList()).contains(modelSize);
    // measured while reading: several values strictly between 0 and the size
    assertThat(done.stream().filter(b -> b > 0 && b < modelSize).distinct().count()).isGreaterThanOrEqualTo(3);

    JsonObject nativeInfo = summary.getJsonObject(NATIVE);
    long pid = nativeInfo.getLong("pid");
    String url = nativeInfo.getString("url");
    assertThat(url).isEqualTo("http://127.0.0.1:" + nativeInfo.getInteger("port"));
    assertThat(status(url + "/health")).isEqualTo(200);
    JsonObject resident = residentOf("native/slow-reader");
    assertThat(resident.getJsonObject(NATIVE).getLong("pid")).isEqualTo(pid);
    assertThat(resident.getJsonObject(NATIVE).getLong("rss_bytes")).isGreaterThan(1L << 20); // a Python process
    assertThat(resident.getLong("bytes_resident")).isPositive();
    assertThat(LoadedModels.get(stage.vertx, "native/slow-reader").orElseThrow().nativeUrl()).contains(url);

    JsonObject unloaded = stage.request(LOAD_UNLOAD, new JsonObject().put(REPO, "native/slow-reader"));
    assertThat(unloaded.getJsonArray(UNLOADED).size()).isEqualTo(1);
    assertThat(running(pid)).isFalse();
    assertThat(residentOf("native/slow-reader")).isNull();
  }

  @Test
  void aServiceThatDiesWhileLoadingFailsTheOperationWithItsLastLines() throws Exception {
    String op = stage.start("native/dying", List.of(model), new JsonObject().put("command", new JsonArray().add("bash").add(DIE.toString())));
    JsonObject end = stage.awaitEnd(op, Duration.ofSeconds(20));
    assertThat(end.getString(KIND)).isEqualTo(KIND_FAILED);
    JsonObject error = end.getJsonObject(ERROR);
    assertThat(error.getString(CODE)).isEqualTo("native_service_failed");
    assertThat(error.getBoolean(RETRYABLE)).isTrue();
    assertThat(error.getString(MESSAGE)).contains("exited with code 3 before it was ready")
        .contains("dying-llm: step 8").contains("dying-llm: giving up").contains("CUDA out of memory")
        .doesNotContain("step 2");
    List<String> mine = stage.logs(op).stream().filter(l -> l.startsWith("dying-llm: step")).toList();
    assertThat(mine).containsExactly("dying-llm: step 1", "dying-llm: step 2", "dying-llm: step 3", "dying-llm: step 4",
        "dying-llm: step 5", "dying-llm: step 6", "dying-llm: step 7", "dying-llm: step 8");
    assertThat(residentOf("native/dying")).isNull();
  }

  @Test
  void cancelKillsTheWholeProcessTreeEvenAProcessThatIgnoresSigterm() throws Exception {
    // Slow (6 s of reading), a child process, and SIGTERM ignored by the parent.
    // The orphan (double fork) is no descendant: it is found by the marker in its environment.
    String op = stage.start("native/cancelled", List.of(model), serve("--delay-ms 200 --child --orphan --ignore-term"));
    LoadStage.waitUntil(Duration.ofSeconds(10), () -> stage.logs(op).stream().anyMatch(l -> l.startsWith("fake-llm: orphan=")),
        "the orphan's pid in the logs");
    long pid = number(stage.logs(op), "fake-llm: pid=(\\d+)");
    long child = number(stage.logs(op), "fake-llm: child=(\\d+)");
    long orphan = number(stage.logs(op), "fake-llm: orphan=(\\d+)");
    assertThat(running(pid)).isTrue();
    assertThat(running(child)).isTrue();
    assertThat(running(orphan)).isTrue();
    assertThat(ProcessHandle.of(pid).orElseThrow().descendants().map(ProcessHandle::pid)).doesNotContain(orphan);

    long asked = System.nanoTime();
    JsonObject reply = stage.request(LOAD_CANCEL, new JsonObject().put(OPERATION_ID, op));
    assertThat(reply.getBoolean(CANCELLED)).isTrue();
    assertThat((System.nanoTime() - asked) / 1_000_000).as("ms to cancel").isLessThan(3000);
    assertThat(running(pid)).as("service").isFalse();
    assertThat(running(child)).as("its child").isFalse();
    assertThat(running(orphan)).as("the process it detached").isFalse();
    Thread.sleep(300);
    assertThat(stage.reports(op)).noneMatch(r -> !KIND_PROGRESS.equals(r.getString(KIND)));
    assertThat(residentOf("native/cancelled")).isNull();
  }

  @Test
  void aServiceThatIsNotReadyInTimeFailsAndIsStopped() throws Exception {
    JsonObject settings = serve("--no-serve").put("timeout_seconds", 3);
    String op = stage.start("native/never-ready", List.of(model), settings);
    JsonObject end = stage.awaitEnd(op, Duration.ofSeconds(15));
    JsonObject error = end.getJsonObject(ERROR);
    assertThat(error.getString(CODE)).isEqualTo("native_service_failed");
    assertThat(error.getBoolean(RETRYABLE)).isTrue();
    List<String> printed = stage.logs(op).stream().filter(l -> l.startsWith("fake-llm: ")).toList();
    assertThat(printed).as("output within 3 s").isNotEmpty();
    assertThat(error.getString(MESSAGE)).contains("not ready within 3 s").contains(printed.get(printed.size() - 1));
    assertThat(running(number(printed, "fake-llm: pid=(\\d+)"))).isFalse();
  }

  @Test
  void aReadyLineAndTheServicesOwnPercentageWork() throws Exception {
    JsonObject settings = serve("--percent --delay-ms 10 --no-serve").put("ready_pattern", "^fake-llm: read \\d+ of");
    String op = stage.start("native/percent", List.of(model), settings);
    JsonObject summary = stage.awaitCompleted(op);
    assertThat(stage.logs(op)).anyMatch(l -> l.contains("its output matched"));
    List<Long> done = stage.bytesDone(op);
    assertThat(done).isSorted();
    assertThat(done.get(done.size() - 1)).isEqualTo(modelSize);
    stage.request(LOAD_UNLOAD, new JsonObject().put(REPO, "native/percent"));
    assertThat(running(summary.getJsonObject(NATIVE).getLong("pid"))).isFalse();
  }

  @Test
  void stingLlmScriptAndNativeLlmUrlConfigureEveryLoad() throws Exception {
    Path script = dir.resolve("sting llm"); // a space in the path stays one argument
    Files.writeString(script, "#!/usr/bin/env bash\n"
        + "echo \"sting-llm: $1 $2\"\n"
        + "exec python3 '" + SERVE + "' --model \"$HOIST_MODEL_PATH\" --port \"$HOIST_PORT\"\n");
    Files.setPosixFilePermissions(script, PosixFilePermissions.fromString("rwxr-xr-x"));
    int port;
    try (java.net.ServerSocket s = new java.net.ServerSocket(0)) {
      port = s.getLocalPort();
    }
    try (LoadStage sting = LoadStage.deploy(new JsonObject().put(HoistConfig.PROGRESS_INTERVAL_MS, 50)
        .put(HoistConfig.STING_LLM_SCRIPT, script.toString())
        .put(HoistConfig.NATIVE_LLM_URL, "http://127.0.0.1:" + port))) {
      String op = sting.start("native/sting", List.of(model), null);
      JsonObject summary = sting.awaitCompleted(op);
      assertThat(sting.logs(op)).contains("sting-llm: load native/sting");
      assertThat(summary.getJsonObject(NATIVE).getString("url")).isEqualTo("http://127.0.0.1:" + port);
      assertThat(status("http://127.0.0.1:" + port + "/health")).isEqualTo(200);
      long pid = summary.getJsonObject(NATIVE).getLong("pid");
      sting.request(LOAD_UNLOAD, new JsonObject().put(REPO, "native/sting"));
      assertThat(running(pid)).isFalse();
    }
  }

  private JsonObject residentOf(String repo) {
    return stage.request(LOAD_RESIDENT, new JsonObject()).getJsonArray(MODELS).stream().map(JsonObject.class::cast)
        .filter(m -> m.getString(REPO).equals(repo)).findFirst().orElse(null);
  }

  static boolean running(long pid) {
    return ProcessHandle.of(pid).map(ProcessTree::running).orElse(false);
  }

  static long number(List<String> logs, String regex) {
    Pattern p = Pattern.compile(regex);
    for (String l : logs) {
      Matcher m = p.matcher(l);
      if (m.find()) {
        return Long.parseLong(m.group(1));
      }
    }
    throw new AssertionError("no line matching " + regex + " in " + logs);
  }

  static int status(String url) throws IOException {
    HttpURLConnection c = (HttpURLConnection) URI.create(url).toURL().openConnection();
    c.setConnectTimeout(2000);
    c.setReadTimeout(2000);
    try {
      return c.getResponseCode();
    } finally {
      c.disconnect();
    }
  }
}
