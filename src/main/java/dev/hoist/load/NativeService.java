package dev.hoist.load;

import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.BiConsumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A running native LLM service process: its pid, port and URL, its output, and how to stop it with
 * everything it started. Created by {@link NativeLoad}; once ready it is the resident model.
 */
final class NativeService {

  private static final Logger log = LoggerFactory.getLogger(NativeService.class);
  /** Set in the service's environment: finds the processes it started, even orphaned ones. */
  static final String MARKER_VARIABLE = "HOIST_SERVICE_ID";

  private final Vertx vertx;
  private final Context context;
  private final Process process;
  private final String name;
  private final String marker;
  private final int port;
  private final String url;
  private final ProcessIo io = new ProcessIo();
  private final OutputPump stdout;
  private final OutputPump stderr;
  private final Promise<Integer> exited = Promise.promise();
  /** The last lines, for the resident list and the log once nobody reports them any more. */
  private final Deque<String> recent = new ArrayDeque<>();
  /** Receives each output line on the context while a load watches; null afterwards. */
  private volatile BiConsumer<String, Boolean> listener;
  private Future<Void> stopping;

  /** {@code serviceId}: the value of {@link #MARKER_VARIABLE} the process was started with. */
  NativeService(Vertx vertx, Context context, Process process, String serviceId, String name,
      int port, String url, BiConsumer<String, Boolean> listener) {
    this.vertx = vertx;
    this.context = context;
    this.process = process;
    this.name = name;
    this.marker = MARKER_VARIABLE + "=" + serviceId;
    this.port = port;
    this.url = url;
    this.listener = listener;
    this.stdout = OutputPump.start(process.getInputStream(), l -> line(l, false), "hoist-native-" + process.pid() + "-out");
    this.stderr = OutputPump.start(process.getErrorStream(), l -> line(l, true), "hoist-native-" + process.pid() + "-err");
    process.onExit().thenAccept(p -> context.runOnContext(v -> exited.tryComplete(p.exitValue())));
  }

  long pid() {
    return process.pid();
  }

  int port() {
    return port;
  }

  String url() {
    return url;
  }

  /** Bytes read so far by the service's processes (blocking: on a worker). */
  long bytesRead() {
    return io.sample(process.toHandle());
  }

  /** The resident memory of the service's processes (blocking: on a worker); -1 if unknown. */
  long residentBytes() {
    return ProcessIo.residentBytes(process.toHandle());
  }

  /** Completes with the exit code when the main process exits (on the context). */
  Future<Integer> exited() {
    return exited.future();
  }

  boolean isAlive() {
    return process.isAlive();
  }

  /** Completes once both output streams ended (all lines delivered), or after {@code ms}. */
  Future<Void> drained(long ms) {
    Promise<Void> p = Promise.promise();
    CompletableFuture.allOf(stdout.done(), stderr.done()).orTimeout(ms, TimeUnit.MILLISECONDS)
        .whenComplete((v, e) -> context.runOnContext(x -> p.tryComplete()));
    return p.future();
  }

  /** Stops watching: lines go to this class's log from now on. */
  void detach() {
    listener = null;
  }

  /**
   * Stops the service and every process it started: SIGTERM, then SIGKILL after {@code graceMs}.
   * Idempotent. Runs the waiting on a worker.
   */
  Future<Void> stop(long graceMs) {
    if (stopping == null) {
      detach();
      List<ProcessHandle> seen = new ArrayList<>(io.seen());
      stopping = vertx.<Integer>executeBlocking(() -> ProcessTree.kill(process.toHandle(), seen, marker, graceMs), false)
          .map(forced -> {
            if (forced > 0) {
              log.warn("Native service {} (pid {}): {} process(es) ignored SIGTERM for {} ms and were killed",
                  name, pid(), forced, graceMs);
            }
            return (Void) null;
          });
    }
    return stopping;
  }

  JsonObject toJson() {
    JsonObject json = new JsonObject().put("pid", pid()).put("port", port).put("url", url);
    synchronized (recent) {
      json.put("last_output", new io.vertx.core.json.JsonArray(new ArrayList<>(recent)));
    }
    return json;
  }

  /** On a pump thread. */
  private void line(String text, boolean isStderr) {
    synchronized (recent) {
      recent.addLast(text);
      if (recent.size() > OutputLog.TAIL) {
        recent.removeFirst();
      }
    }
    BiConsumer<String, Boolean> l = listener;
    if (l != null) {
      context.runOnContext(v -> l.accept(text, isStderr));
    } else if (log.isDebugEnabled()) {
      log.debug("[{} pid {}{}] {}", name, pid(), isStderr ? " stderr" : "", text);
    }
  }
}
