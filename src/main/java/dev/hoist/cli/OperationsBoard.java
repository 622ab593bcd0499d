package dev.hoist.cli;

import dev.hoist.client.Operation;
import io.vertx.core.json.JsonObject;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Every operation live ({@code hoist watch}). On a terminal: a table redrawn in place a few times a
 * second, newest first. Otherwise: a line per notable change of each operation (see {@link LineView}).
 * Runs until the process is stopped or the connection is lost.
 */
final class OperationsBoard {

  private static final long REDRAW_MS = 200;
  private static final int MAX_ROWS = 20;
  private static final String ESC = "\u001b[";

  private final boolean interactive;
  private final PrintStream out;
  /** The latest state of each operation. */
  private final Map<String, Operation> latest = new LinkedHashMap<>();
  private final Map<String, LineView> lines = new HashMap<>();
  private int drawnLines;
  private boolean dirty = true;

  OperationsBoard(boolean interactive, PrintStream out) {
    this.interactive = interactive;
    this.out = out;
  }

  int run(ServerApi api) {
    try (LiveFeed feed = LiveFeed.subscribe(api, "*")) {
      long lastDraw = 0;
      while (true) {
        JsonObject frame = feed.next(REDRAW_MS);
        if (frame != null) {
          apply(frame);
        }
        // At most a few redraws a second, however fast the updates come.
        if (interactive && dirty && System.nanoTime() - lastDraw >= REDRAW_MS * 1_000_000) {
          redraw();
          lastDraw = System.nanoTime();
        }
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return HoistCli.EXIT_OK;
    }
  }

  private void apply(JsonObject frame) {
    String type = frame.getString("type");
    String id = frame.getString("operation_id");
    if ("removed".equals(type)) {
      latest.remove(id);
      lines.remove(id);
      dirty = true;
      if (!interactive) {
        out.println(shortId(id) + " removed");
      }
    } else if (LiveFeed.isOperation(frame)) {
      Operation op = new Operation(frame);
      latest.put(id, op);
      dirty = true;
      if (!interactive) {
        lines.computeIfAbsent(id, k -> new LineView(out, shortId(id) + " " + op.modelName() + " ")).update(op);
      }
    } else if ("subscribed".equals(type) && !interactive && latest.isEmpty()) {
      out.println("No operations yet; waiting for new ones (Ctrl-C to stop).");
    }
  }

  /** Moves up over the last drawing, clears it, and draws the table again. */
  private void redraw() {
    StringBuilder screen = new StringBuilder();
    if (drawnLines > 0) {
      // Cursor up (CUU, understood by every terminal) to the table's first line, clear to the end.
      screen.append('\r').append(ESC).append(drawnLines).append('A').append(ESC).append('J');
    }
    List<Operation> ops = new ArrayList<>(latest.values());
    ops.sort(Comparator.comparing(Operation::createdAt, Comparator.nullsLast(Comparator.reverseOrder()))); // newest first
    List<String> rows = new ArrayList<>();
    rows.add(String.format(Locale.ROOT, "%-8s  %-20s  %-12s  %4s  %s", "ID", "MODEL", "STATUS", "", "DETAIL"));
    for (Operation op : ops.subList(0, Math.min(MAX_ROWS, ops.size()))) {
      String facts = Format.stageFacts(op);
      rows.add(String.format(Locale.ROOT, "%-8s  %-20s  %-12s  %3d%%  %s", shortId(op.id()), Format.abbreviate(op.modelName(), 20),
          op.status().wireName(), op.progress(), Format.abbreviate(facts.isEmpty() ? op.message() : facts, 80)));
    }
    if (ops.isEmpty()) {
      rows.add("(no operations yet; Ctrl-C to stop)");
    }
    rows.forEach(row -> screen.append(row).append('\n'));
    out.print(screen);
    out.flush();
    drawnLines = rows.size();
    dirty = false;
  }

  private static String shortId(String id) {
    return id == null ? "?" : id.substring(0, Math.min(8, id.length()));
  }
}
