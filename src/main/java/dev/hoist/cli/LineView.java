package dev.hoist.cli;

import dev.hoist.client.Operation;
import dev.hoist.contract.OperationStatus;
import java.io.PrintStream;
import java.time.LocalTime;
import java.time.format.DateTimeFormatter;
import java.util.Objects;

/**
 * Plain lines for logs and pipes (no terminal): one when the status or the message changes, and
 * otherwise at most every 5 percent or every 2 seconds, so a long download is neither silent nor
 * hundreds of lines. No escape codes.
 */
final class LineView implements ProgressView {

  private static final DateTimeFormatter TIME = DateTimeFormatter.ofPattern("HH:mm:ss");
  private static final int STEP_PERCENT = 5;
  private static final long QUIET_NANOS = 2_000_000_000L;

  private final PrintStream out;
  /** Put before each line, e.g. the operation's short id when several are shown. */
  private final String prefix;
  private OperationStatus lastStatus;
  private String lastMessage;
  private int lastProgress = -1;
  private long lastPrinted;

  LineView(PrintStream out) {
    this(out, "");
  }

  LineView(PrintStream out, String prefix) {
    this.out = out;
    this.prefix = prefix;
  }

  @Override
  public void update(Operation op) {
    long now = System.nanoTime();
    boolean changed = op.status() != lastStatus || !Objects.equals(op.message(), lastMessage);
    boolean moved = op.progress() >= lastProgress + STEP_PERCENT
        || (op.progress() > lastProgress && now - lastPrinted >= QUIET_NANOS);
    if (changed || moved) {
      print(op, now);
    }
  }

  @Override
  public void finish(Operation op) {
    if (op.status() != lastStatus) {
      print(op, System.nanoTime());
    }
  }

  private void print(Operation op, long now) {
    out.println(LocalTime.now().format(TIME) + " " + prefix + Format.progressLine(op));
    out.flush();
    lastStatus = op.status();
    lastMessage = op.message();
    lastProgress = op.progress();
    lastPrinted = now;
  }
}
