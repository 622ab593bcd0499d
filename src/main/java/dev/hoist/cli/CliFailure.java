package dev.hoist.cli;

/** Ends a command with a message on stderr and an exit code (see {@link HoistCli} for the codes). */
final class CliFailure extends RuntimeException {

  private final int exitCode;

  CliFailure(int exitCode, String message) {
    super(message, null, false, false);
    this.exitCode = exitCode;
  }

  int exitCode() {
    return exitCode;
  }
}
