package dev.hoist.cli;

import dev.hoist.client.Operation;
import dev.hoist.contract.OperationStatus;
import io.vertx.core.json.JsonObject;
import java.io.PrintStream;

/** Follows one operation over the WebSocket until its final state, and turns that into an exit code. */
final class Follow {

  /** How long to wait for a frame before waiting again; a long quiet load is fine. */
  private static final long POLL_MS = 1_000;

  private Follow() {
  }

  /** 0 when it completes; 1 (the error on stderr) when it fails or is cancelled. */
  static int follow(ServerApi api, String operationId, boolean interactive) {
    PrintStream out = System.out;
    ProgressView view = ProgressView.create(interactive, out);
    try (LiveFeed feed = LiveFeed.subscribe(api, operationId)) {
      while (true) {
        JsonObject frame = feed.next(POLL_MS);
        if (frame == null) {
          continue;
        }
        String type = frame.getString("type");
        if ("error".equals(type)) {
          // e.g. no such operation: the server's message, as for a refused REST request
          JsonObject error = frame.getJsonObject("error", new JsonObject());
          throw new CliFailure(HoistCli.EXIT_REFUSED, error.getString("message", "the server refused the subscription"));
        }
        if (!operationId.equals(frame.getString("operation_id"))) {
          continue;
        }
        if ("removed".equals(type)) {
          throw new CliFailure(HoistCli.EXIT_FAILED, "operation " + operationId + " was removed before it finished");
        }
        if (!LiveFeed.isOperation(frame)) {
          continue;
        }
        Operation op = new Operation(frame);
        if (op.isFinished()) {
          view.finish(op);
          return outcome(op);
        }
        view.update(op);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new CliFailure(HoistCli.EXIT_FAILED, "interrupted");
    }
  }

  /** Prints how the operation ended: on stdout when it completed, on stderr otherwise. */
  static int outcome(Operation op) {
    if (op.status() == OperationStatus.COMPLETED) {
      System.out.println(Format.outcome(op));
      System.out.flush();
      return HoistCli.EXIT_OK;
    }
    System.err.println(Format.outcome(op));
    System.err.flush();
    return HoistCli.EXIT_FAILED;
  }
}
