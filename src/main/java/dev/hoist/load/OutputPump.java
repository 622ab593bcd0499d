package dev.hoist.load;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.CompletableFuture;
import java.util.function.Consumer;

/**
 * Drains one output stream of a native service into lines, on a thread of its own: the reads block
 * for as long as the service lives (hours, for a resident one), which would starve a worker pool,
 * and a pipe that is not drained would block the service once it is full.
 */
final class OutputPump implements Runnable {

  /** Longer lines are cut (a progress bar drawn with \r and no \n must not grow without bound). */
  static final int MAX_LINE_BYTES = 4096;

  private final InputStream in;
  private final Consumer<String> lines;
  private final CompletableFuture<Void> done = new CompletableFuture<>();

  OutputPump(InputStream in, Consumer<String> lines) {
    this.in = in;
    this.lines = lines;
  }

  static OutputPump start(InputStream in, Consumer<String> lines, String threadName) {
    OutputPump pump = new OutputPump(in, lines);
    Thread t = new Thread(pump, threadName);
    t.setDaemon(true);
    t.start();
    return pump;
  }

  /** Completes at end of stream, after the last line was handed on. */
  CompletableFuture<Void> done() {
    return done;
  }

  @Override
  public void run() {
    ByteArrayOutputStream line = new ByteArrayOutputStream();
    boolean cut = false;
    byte[] buf = new byte[8192];
    try (in) {
      int n;
      while ((n = in.read(buf)) > 0) {
        for (int i = 0; i < n; i++) {
          byte b = buf[i];
          if (b == '\n' || b == '\r') {
            // \r too: tools redraw progress bars with it; each redraw is a line for us
            if (line.size() > 0 || cut) {
              emit(line, cut);
            }
            line.reset();
            cut = false;
          } else if (line.size() < MAX_LINE_BYTES) {
            line.write(b);
          } else {
            cut = true;
          }
        }
      }
    } catch (IOException e) {
      // the stream closed under us: the process is gone
    } finally {
      if (line.size() > 0) {
        emit(line, cut);
      }
      done.complete(null);
    }
  }

  private void emit(ByteArrayOutputStream line, boolean cut) {
    String text = line.toString(StandardCharsets.UTF_8);
    lines.accept(cut ? text + " …" : text);
  }
}
