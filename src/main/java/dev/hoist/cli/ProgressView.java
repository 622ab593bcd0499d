package dev.hoist.cli;

import dev.hoist.client.Operation;
import java.io.PrintStream;

/** Shows the states of one followed operation: a redrawn bar on a terminal, plain lines otherwise. */
interface ProgressView {

  /** A new state (snapshot or update), in seq order. */
  void update(Operation op);

  /** The final state arrived: leave the display in a clean state (the caller prints the outcome). */
  void finish(Operation op);

  static ProgressView create(boolean interactive, PrintStream out) {
    return interactive ? new BarView(out) : new LineView(out);
  }
}
