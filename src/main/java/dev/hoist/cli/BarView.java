package dev.hoist.cli;

import dev.hoist.client.Operation;
import dev.hoist.contract.OperationStatus;
import io.vertx.core.json.JsonObject;
import java.io.PrintStream;
import java.util.Locale;
import java.util.concurrent.atomic.AtomicReference;
import me.tongfei.progressbar.ConsoleProgressBarConsumer;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;

/**
 * A progress bar per stage, redrawn in place on the terminal (me.tongfei:progressbar does the
 * redrawing and finds the terminal's width). Each finished stage leaves its last line behind:
 *
 * <pre>
 * initializing   5% [==                                      ] Resolving hoist/demo-tiny@main
 * downloading   60% [========================                ] 16.0/16.0 MiB  41.2 MiB/s
 * loading       72% [============================>           ] 9.1/16.0 MiB  80.3 MiB/s  ETA 1s
 * </pre>
 *
 * The numbers are Hoist's own (its 5-second rate and its ETA), not the bar library's estimate: the
 * server sees resumed bytes and stalls that a client cannot.
 */
final class BarView implements ProgressView {

  private static final int REFRESH_MS = 100;

  private final PrintStream out;
  private ProgressBar bar;
  private StageConsumer consumer;
  /** What the current bar draws; a closed bar keeps its own. */
  private AtomicReference<Operation> shown;
  private String stage;

  BarView(PrintStream out) {
    this.out = out;
  }

  @Override
  public void update(Operation op) {
    String status = op.status().wireName();
    if (bar != null && !status.equals(stage)) {
      closeStage(op);
    }
    if (bar == null) {
      stage = status;
      AtomicReference<Operation> state = new AtomicReference<>(op);
      shown = state;
      consumer = new StageConsumer(out);
      bar = new ProgressBarBuilder()
          .setTaskName(status)
          .setInitialMax(100)
          .setUpdateIntervalMillis(REFRESH_MS)
          .continuousUpdate() // redraw even when the percent stands still: bytes, rate and ETA move
          .setConsumer(consumer)
          .setRenderer((progress, width) -> render(state.get(), width))
          .build();
    }
    shown.set(op);
    bar.stepTo(op.progress());
  }

  @Override
  public void finish(Operation op) {
    if (bar != null) {
      closeStage(op);
    }
  }

  /** Draws the stage as done (all its bytes, no ETA) and leaves that line on screen. */
  private void closeStage(Operation next) {
    Operation done;
    OperationStatus was = shown.get().status();
    if (next.isFinished()) {
      done = next; // the last line says how it ended, or where it stopped
    } else if (was != OperationStatus.DOWNLOADING && was != OperationStatus.LOADING) {
      done = shown.get(); // no bytes of its own to complete
    } else {
      JsonObject json = shown.get().json();
      JsonObject stageJson = json.getJsonObject("stage", new JsonObject());
      stageJson.put("bytes_done", stageJson.getLong("bytes_total", 0L)).putNull("eta_seconds");
      json.put("progress", next.progress());
      done = new Operation(json);
    }
    shown.set(done);
    bar.stepTo(done.progress());
    bar.close();
    consumer.finish(render(done, consumer.getMaxRenderedLength()));
    bar = null;
  }

  /**
   * Draws on the terminal like the library's console consumer, and remembers whether the bar ended
   * its line: a bar closed before its first scheduled refresh draws once and never ends the line,
   * so {@link #finish} does it.
   */
  private static final class StageConsumer extends ConsoleProgressBarConsumer {
    private boolean closed;

    StageConsumer(PrintStream out) {
      super(out);
    }

    @Override
    public synchronized void accept(String rendered) {
      if (!closed) {
        super.accept(rendered);
      }
    }

    @Override
    public synchronized void close() {
      if (!closed) {
        closed = true;
        super.close();
      }
    }

    /** After the bar is closed: makes sure the final line is drawn and ended. */
    synchronized void finish(String finalLine) {
      if (!closed) {
        super.accept(finalLine);
        close();
      }
    }
  }

  static String render(Operation op, int width) {
    String head = String.format(Locale.ROOT, "%-12s %3d%% ", op.status().wireName(), op.progress());
    String facts = Format.stageFacts(op);
    String tail = facts.isEmpty() ? Format.abbreviate(op.message(), 60) : facts;
    int barWidth = Math.max(10, Math.min(40, width - head.length() - tail.length() - 3));
    int filled = (int) Math.round(barWidth * Math.max(0, Math.min(100, op.progress())) / 100.0);
    StringBuilder line = new StringBuilder(head).append('[');
    line.append("=".repeat(filled));
    if (filled < barWidth) {
      line.append(filled > 0 ? ">" : " ").append(" ".repeat(barWidth - filled - 1));
    }
    line.append("] ").append(tail);
    // The consumer returns to the line's start without clearing it: pad over what was there.
    String text = line.length() > width ? line.substring(0, Math.max(0, width)) : line.toString();
    return text + " ".repeat(Math.max(0, width - text.length()));
  }
}
