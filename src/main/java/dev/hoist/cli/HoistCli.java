package dev.hoist.cli;

import java.io.PrintWriter;
import java.util.Set;
import org.slf4j.LoggerFactory;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/**
 * Hoist's command-line client, in the same jar as the server: {@code java -jar hoist.jar load
 * demo-tiny} talks to a running Hoist over its REST API and WebSocket ({@code --server}, default
 * {@code $HOIST_SERVER} or http://127.0.0.1:8080). {@link dev.hoist.Hoist#main} hands over here when
 * the first argument is a command; without one it runs the server. See {@code docs/cli.md}.
 */
@Command(name = "hoist",
    mixinStandardHelpOptions = true,
    versionProvider = HoistCli.Version.class,
    description = {"Downloads LLMs from a Hugging Face-compatible hub, loads them into memory, and shows every step live.",
        "Without a command, runs the Hoist server (java -jar hoist.jar [-conf FILE])."},
    subcommands = {LoadCommand.class, ListCommand.class, StatusCommand.class, CancelCommand.class, RetryCommand.class,
        WatchCommand.class, ModelsCommand.class, UnloadCommand.class, CommandLine.HelpCommand.class},
    footerHeading = "%nExit codes:%n",
    footer = {"  0  done (a followed load completed)",
        "  1  a followed operation failed or was cancelled",
        "  2  the server refused the request (unknown model, ...), or bad usage",
        "  3  the server cannot be reached or failed"})
public final class HoistCli implements Runnable {

  public static final int EXIT_OK = 0;
  public static final int EXIT_FAILED = 1;
  public static final int EXIT_REFUSED = 2;
  public static final int EXIT_USAGE = 2;
  public static final int EXIT_UNAVAILABLE = 3;

  /** What makes {@code hoist ARGS} a client call rather than the server. */
  private static final Set<String> ENTRY_WORDS = Set.of("load", "ls", "status", "cancel", "retry", "watch", "models",
      "unload", "help", "-h", "--help", "-V", "--version");

  @Spec
  CommandSpec spec;

  /** True when {@code firstArgument} names a command (or asks for help), so the CLI should run. */
  public static boolean isCommand(String firstArgument) {
    return firstArgument != null && ENTRY_WORDS.contains(firstArgument);
  }

  /**
   * Runs a command and returns its exit code; prints a failure's message on stderr. Meant for a
   * process of its own: it turns library logging down to errors.
   */
  public static int run(String... args) {
    quietLogging();
    CommandLine cli = new CommandLine(new HoistCli());
    cli.setExecutionExceptionHandler((error, commandLine, parseResult) -> {
      if (error instanceof CliFailure) {
        PrintWriter err = commandLine.getErr();
        err.println("error: " + error.getMessage());
        err.flush();
        return ((CliFailure) error).exitCode();
      }
      throw error;
    });
    return cli.execute(args);
  }

  @Override
  public void run() {
    spec.commandLine().usage(System.out);
  }

  /**
   * The client's own output is the point: library logs (even a blocked-thread warning of its own
   * Vert.x on a busy machine) would clutter it and break the redrawn table of {@code watch}.
   */
  private static void quietLogging() {
    if (LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME) instanceof ch.qos.logback.classic.Logger) {
      ((ch.qos.logback.classic.Logger) LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME))
          .setLevel(ch.qos.logback.classic.Level.ERROR);
    }
  }

  /** The jar's version (from its manifest), or "development" when run from classes. */
  static final class Version implements CommandLine.IVersionProvider {
    @Override
    public String[] getVersion() {
      String version = HoistCli.class.getPackage().getImplementationVersion();
      return new String[] {"hoist " + (version == null ? "development" : version)};
    }
  }
}
