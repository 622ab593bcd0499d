package dev.hoist.load;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.function.BiConsumer;

/**
 * Decides which output lines of a native service become log lines of the operation. Every line is
 * kept in a short tail (for the error message if the service dies); lines are passed on as they
 * come up to a burst, then at a steady rate, so a chatty service cannot flood the operation's logs
 * and the event bus. Lines held back are counted, and the last few of them are passed on at the
 * next {@link #flush} (and always at the end), so the newest output is never lost.
 *
 * <p>Not thread-safe: used on the load verticle's event loop.
 */
final class OutputLog {

  /** Lines in the tail, and lines shown after a gap. */
  static final int TAIL = 5;

  record Line(String text, boolean stderr) {
  }

  private final BiConsumer<String, Boolean> sink;
  private final int burst;
  private final double perSecond;
  private final Deque<Line> tail = new ArrayDeque<>();
  /** stderr on its own: two pipes have no common order, and the error is what a failure needs. */
  private final Deque<Line> errorTail = new ArrayDeque<>();
  private final Deque<Line> held = new ArrayDeque<>();
  private double tokens;
  private long refilledAt = System.nanoTime();
  private long skipped;

  /** {@code sink} receives (text, isStderr) for each line to log. */
  OutputLog(BiConsumer<String, Boolean> sink, int burst, double perSecond) {
    this.sink = sink;
    this.burst = burst;
    this.perSecond = perSecond;
    this.tokens = burst;
  }

  void accept(String text, boolean stderr) {
    Line line = new Line(text, stderr);
    remember(tail, line);
    if (stderr) {
      remember(errorTail, line);
    }
    refill();
    if (held.isEmpty() && tokens >= 1) {
      tokens--;
      sink.accept(text, stderr);
    } else {
      remember(held, line);
      skipped++;
    }
  }

  /** Passes on what was held back once the rate allows it; {@code force} at the end. */
  void flush(boolean force) {
    refill();
    if (held.isEmpty() || (!force && tokens < held.size() + 1)) {
      return;
    }
    long notShown = skipped - held.size();
    if (notShown > 0) {
      sink.accept("… " + notShown + " more line(s) of output not shown", false);
    }
    held.forEach(l -> sink.accept(l.text(), l.stderr()));
    tokens = Math.max(0, tokens - held.size() - 1);
    held.clear();
    skipped = 0;
  }

  /** The last {@link #TAIL} lines, oldest first. */
  List<String> tail() {
    List<String> out = new ArrayList<>();
    tail.forEach(l -> out.add(l.text()));
    return out;
  }

  /** The last {@link #TAIL} stderr lines that are not among {@link #tail()}, oldest first. */
  List<String> olderErrors() {
    List<String> out = new ArrayList<>();
    errorTail.stream().filter(l -> !tail.contains(l)).forEach(l -> out.add(l.text()));
    return out;
  }

  private void refill() {
    long now = System.nanoTime();
    tokens = Math.min(burst, tokens + (now - refilledAt) / 1e9 * perSecond);
    refilledAt = now;
  }

  private static void remember(Deque<Line> deque, Line line) {
    deque.addLast(line);
    if (deque.size() > TAIL) {
      deque.removeFirst();
    }
  }
}
