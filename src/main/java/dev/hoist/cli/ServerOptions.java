package dev.hoist.cli;

import picocli.CommandLine.Option;

/** The options every command that talks to a server shares. */
final class ServerOptions {

  static final String DEFAULT_SERVER = "http://127.0.0.1:8080";

  @Option(names = "--server", paramLabel = "URL", defaultValue = "${env:HOIST_SERVER:-" + DEFAULT_SERVER + "}",
      description = "Hoist's URL; default $HOIST_SERVER, else " + DEFAULT_SERVER)
  String server;

  @Option(names = "--token", paramLabel = "TOKEN", defaultValue = "${env:HOIST_API_TOKEN}",
      description = "The server's API token, sent as a bearer token; default $HOIST_API_TOKEN")
  String token;

  @Option(names = "--plain", description = "Plain lines: no progress bar, no escape codes (the default when the output is not a terminal)")
  boolean plain;

  /** A terminal to redraw on: Java gives no console when stdin or stdout is redirected. */
  boolean interactive() {
    return !plain && System.console() != null;
  }

  ServerApi open() {
    return ServerApi.open(server, token);
  }
}
