package dev.hoist.load;

/** Ends a load that was cancelled; the verticle sends no report for it (the canceller knows). */
final class LoadCancelled extends RuntimeException {

  LoadCancelled() {
    super("cancelled", null, false, false);
  }
}
