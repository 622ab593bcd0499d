package dev.hoist.load;

import static dev.hoist.contract.EventBusContract.*;

import dev.hoist.HoistConfig;
import dev.hoist.contract.ErrorCode;
import dev.hoist.contract.HoistException;
import dev.hoist.contract.StageReporter;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpClient;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.RequestOptions;
import io.vertx.core.json.JsonObject;
import java.io.File;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.regex.Matcher;

/**
 * Hands one validated model to a native LLM service: starts the command, streams its output into
 * the operation's logs, reports progress from the bytes its processes read (or the percentage it
 * prints), and waits until its health URL answers 200 or a line matches the ready pattern. A
 * service that exits first or misses the timeout fails the load with {@code native_service_failed}
 * and its last output lines; either way no process of it is left running.
 *
 * <p>Runs on the load verticle's event loop; starting the process, reading procfs and killing run
 * on workers.
 */
final class NativeLoad {

  static final long HEALTH_POLL_MS = 250;
  static final long HEALTH_TIMEOUT_MS = 2000;
  /** Output lines passed on at once, then per second (see {@link OutputLog}). */
  static final int LOG_BURST = 200;
  static final double LOG_PER_SECOND = 20;

  private final Vertx vertx;
  private final Context context;
  private final StageReporter reporter;
  private final NativeSettings settings;
  private final ModelInspector.Plan plan;
  private final JsonObject command;
  private final HoistConfig config;
  private final HttpClient http;
  private final Promise<NativeService> result = Promise.promise();
  private final OutputLog output;
  private final long bytesTotal;
  private final String mainFile;
  private Future<NativeService> launching;
  private NativeService service;
  private String healthUrl;
  private long bytesDone;
  private Double reportedFraction;
  private boolean sampling;
  private boolean polling;
  private boolean finished;
  private String readyLine;
  private long progressTimer = -1;
  private long healthTimer = -1;
  private long timeoutTimer = -1;

  NativeLoad(Vertx vertx, StageReporter reporter, NativeSettings settings, ModelInspector.Plan plan, JsonObject command,
      HoistConfig config, HttpClient http) {
    this.vertx = vertx;
    this.context = vertx.getOrCreateContext();
    this.reporter = reporter;
    this.settings = settings;
    this.plan = plan;
    this.command = command;
    this.config = config;
    this.http = http;
    this.bytesTotal = plan.fileBytes();
    this.mainFile = plan.regions.size() == 1 ? plan.regions.get(0).name : null;
    this.output = new OutputLog((text, stderr) -> reporter.log(stderr ? LEVEL_WARN : LEVEL_INFO, text), LOG_BURST, LOG_PER_SECOND);
  }

  /** Completes with the ready service; fails with a {@link HoistException}, or {@link LoadCancelled}. */
  Future<NativeService> start() {
    long timeoutSeconds = settings.timeoutSeconds(bytesTotal, config);
    Map<String, String> values = placeholders();
    int port;
    try {
      // a bind and a close on loopback: quick system calls, fine on the event loop
      port = settings.fixedPort > 0 ? settings.fixedPort : freePort();
    } catch (IOException e) {
      return Future.failedFuture(new HoistException(ErrorCode.NATIVE_SERVICE_FAILED, "no free port for the native service: "
          + e.getMessage()));
    }
    values.put("{port}", Integer.toString(port));
    List<String> argv = CommandTemplate.expand(settings.command, values);
    healthUrl = settings.healthUrl == null ? null : CommandTemplate.fill(settings.healthUrl, values);
    String url = healthUrl == null ? "http://127.0.0.1:" + port : baseOf(healthUrl);
    // Logged before the process starts, so its own lines follow this one.
    reporter.progress(new JsonObject().put(BYTES_DONE, 0).put(BYTES_TOTAL, bytesTotal).put(CURRENT_FILE, mainFile)
        .put(MESSAGE, "Starting native service for " + command.getString(REPO))
        .put(LOG, "Starting native service on port " + port + ": " + String.join(" ", argv)
            + "; waiting up to " + timeoutSeconds + " s for " + readinessText()));
    launching = vertx.executeBlocking(() -> launch(argv, values, port, url), false);
    launching.onComplete(ar -> {
      if (ar.failed()) {
        finish(new HoistException(ErrorCode.NATIVE_SERVICE_FAILED, "could not start the native service "
            + argv.get(0) + ": " + ar.cause().getMessage(), false, null));
        return;
      }
      service = ar.result();
      if (finished) { // cancelled while starting; cancel() stops it
        return;
      }
      service.exited().onSuccess(this::exitedEarly);
      progressTimer = vertx.setPeriodic(Math.max(50, config.progressIntervalMs()), id -> sample());
      if (healthUrl != null) {
        healthTimer = vertx.setPeriodic(HEALTH_POLL_MS, id -> poll());
      }
      timeoutTimer = vertx.setTimer(timeoutSeconds * 1000, id -> timedOut(timeoutSeconds));
      if (readyLine != null) { // the ready line came before we got here
        ready(readyLine);
      }
    });
    return result.future();
  }

  /** Stops the service (once it is started, if it is starting) and ends the load without a report. */
  Future<Void> cancel() {
    if (!finished) {
      finish(new LoadCancelled());
    }
    if (launching == null) {
      return Future.succeededFuture();
    }
    return launching.transform(ar -> ar.succeeded() ? ar.result().stop(config.nativeKillGraceMs()) : Future.succeededFuture());
  }

  private Map<String, String> placeholders() {
    String dir = command.getString(SNAPSHOT_DIR);
    if (dir == null) {
      dir = plan.regions.get(0).file.toAbsolutePath().getParent().toString();
    }
    Map<String, String> values = new LinkedHashMap<>();
    // {path}: the weights file; for a sharded model the snapshot directory (loaders take the dir)
    values.put("{path}", plan.regions.size() == 1 ? plan.regions.get(0).file.toString() : dir);
    values.put("{dir}", dir);
    values.put("{model}", command.getString(REPO, ""));
    return values;
  }

  /** Blocking (fork and exec): starts the process. */
  private NativeService launch(List<String> argv, Map<String, String> values, int port, String url) throws IOException {
    ProcessBuilder pb = new ProcessBuilder(argv).redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
    CommandTemplate.PLACEHOLDERS.forEach((placeholder, env) -> pb.environment().put(env, values.get(placeholder)));
    String serviceId = UUID.randomUUID().toString();
    pb.environment().put(NativeService.MARKER_VARIABLE, serviceId);
    Process process = pb.start();
    return new NativeService(vertx, context, process, serviceId, command.getString(MODEL_KEY, "native"), port, url,
        this::line);
  }

  /** A free loopback port: bound and released; the service binds it a moment later. */
  private static int freePort() throws IOException {
    try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      return socket.getLocalPort();
    }
  }

  private static String baseOf(String url) {
    URI u = URI.create(url);
    return u.getScheme() + "://" + u.getRawAuthority();
  }

  private String readinessText() {
    if (healthUrl != null && settings.readyPattern != null) {
      return healthUrl + " to answer 200 or a line matching /" + settings.readyPattern.pattern() + "/";
    }
    return healthUrl != null ? healthUrl + " to answer 200" : "a line matching /" + settings.readyPattern.pattern() + "/";
  }

  /** Each output line, on the context. */
  private void line(String text, boolean stderr) {
    if (finished) {
      return;
    }
    output.accept(text, stderr);
    Matcher progress = settings.progressPattern.matcher(text);
    if (progress.find() && progress.groupCount() >= 1 && progress.group(1) != null) {
      try {
        double fraction = Math.min(1, Double.parseDouble(progress.group(1)) / 100);
        reportedFraction = Math.max(reportedFraction == null ? 0 : reportedFraction, fraction);
      } catch (NumberFormatException e) {
        // not a number after all: keep measuring bytes
      }
    }
    if (settings.readyPattern != null && settings.readyPattern.matcher(text).find()) {
      String why = "its output matched /" + settings.readyPattern.pattern() + "/";
      if (service == null) {
        readyLine = why; // the process is started but its handle has not reached us yet
      } else {
        ready(why);
      }
    }
  }

  /** Progress: the service's own percentage if it prints one, else the bytes its processes read. */
  private void sample() {
    output.flush(false);
    if (sampling || finished || service == null) {
      return;
    }
    sampling = true;
    vertx.executeBlocking(service::bytesRead, false).onComplete(ar -> {
      sampling = false;
      if (finished || ar.failed()) {
        return;
      }
      long measured = reportedFraction != null ? (long) (reportedFraction * bytesTotal) : Math.min(ar.result(), bytesTotal);
      if (measured > bytesDone) {
        bytesDone = measured;
        reporter.progress(new JsonObject().put(BYTES_DONE, bytesDone).put(BYTES_TOTAL, bytesTotal).put(CURRENT_FILE, mainFile)
            .put(MESSAGE, "Native service loading " + command.getString(REPO)));
      }
    });
  }

  private void poll() {
    if (polling || finished) {
      return;
    }
    polling = true;
    RequestOptions options = new RequestOptions().setMethod(HttpMethod.GET).setAbsoluteURI(healthUrl)
        .setConnectTimeout(HEALTH_TIMEOUT_MS).setIdleTimeout(HEALTH_TIMEOUT_MS);
    http.request(options)
        .compose(req -> req.send())
        .compose(resp -> resp.body().map(b -> resp.statusCode()))
        .onComplete(ar -> {
          polling = false;
          if (ar.succeeded() && ar.result() == 200) {
            ready(healthUrl + " answered 200");
          }
        });
  }

  private void ready(String why) {
    if (finished) {
      return;
    }
    finished = true;
    stopTimers();
    output.flush(true);
    service.detach();
    bytesDone = bytesTotal;
    reporter.progress(new JsonObject().put(BYTES_DONE, bytesTotal).put(BYTES_TOTAL, bytesTotal).put(CURRENT_FILE, mainFile)
        .put(MESSAGE, "Native service ready at " + service.url())
        .put(LOG, "Native service ready at " + service.url() + " (pid " + service.pid() + "): " + why));
    result.complete(service);
  }

  /**
   * The main process exited while we were still waiting for it: a failure, whatever its exit code.
   * (A launcher that puts the server in the background and exits cannot work: the JDK closes its
   * end of the output pipes when the process it started exits, so the server would die of SIGPIPE
   * at its next line. A command must keep the server in the foreground, e.g. with {@code exec}.)
   */
  private void exitedEarly(int code) {
    if (finished) {
      return;
    }
    // Let the pumps deliver the last lines first: they are the error message.
    service.drained(1000).onComplete(v -> {
      if (!finished) {
        finish(failure("the native service exited with code " + code + " before it was ready"));
      }
    });
  }

  private void timedOut(long seconds) {
    if (!finished) {
      finish(failure("the native service was not ready within " + seconds + " s (" + readinessText() + ")"));
    }
  }

  private HoistException failure(String what) {
    List<String> tail = output.tail();
    List<String> errors = output.olderErrors();
    String message = what + (tail.isEmpty() ? "; it printed nothing" : "; its last output: " + String.join(" | ", tail))
        + (errors.isEmpty() ? "" : "; before that on stderr: " + String.join(" | ", errors));
    return new HoistException(ErrorCode.NATIVE_SERVICE_FAILED, message);
  }

  /** Ends the load unsuccessfully; no process of the service is left when the future fails. */
  private void finish(Exception failure) {
    finished = true;
    stopTimers();
    if (!(failure instanceof LoadCancelled)) {
      output.flush(true);
    }
    if (service == null || failure instanceof LoadCancelled) {
      result.tryFail(failure);
      return;
    }
    service.stop(config.nativeKillGraceMs()).onComplete(v -> result.tryFail(failure));
  }

  private void stopTimers() {
    for (long id : new long[] {progressTimer, healthTimer, timeoutTimer}) {
      if (id >= 0) {
        vertx.cancelTimer(id);
      }
    }
  }
}
