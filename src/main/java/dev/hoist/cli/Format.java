package dev.hoist.cli;

import dev.hoist.client.Operation;
import dev.hoist.contract.HoistException;
import dev.hoist.contract.OperationStatus;
import io.vertx.core.json.JsonObject;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/** Human-readable numbers, operation lines and tables for the terminal. */
final class Format {

  private Format() {
  }

  /** Binary units, as the catalog's size hints: 16.0 MiB. */
  static String bytes(long bytes) {
    if (bytes < 1024) {
      return bytes + " B";
    }
    String[] units = {"KiB", "MiB", "GiB", "TiB"};
    double value = bytes;
    int unit = -1;
    while (value >= 1024 && unit < units.length - 1) {
      value /= 1024;
      unit++;
    }
    return String.format(Locale.ROOT, "%.1f %s", value, units[unit]);
  }

  /** "122.4/257.6 MiB" in the unit of the total. */
  static String bytesOf(long done, long total) {
    if (total < 1024) {
      return done + "/" + total + " B";
    }
    String totalText = bytes(total);
    String unit = totalText.substring(totalText.indexOf(' ') + 1);
    double scale = Math.pow(1024, List.of("KiB", "MiB", "GiB", "TiB").indexOf(unit) + 1);
    return String.format(Locale.ROOT, "%.1f/%s", done / scale, totalText);
  }

  static String rate(double bytesPerSecond) {
    return bytes(Math.round(bytesPerSecond)) + "/s";
  }

  /** 4s, 2m05s, 1h02m. */
  static String duration(long seconds) {
    if (seconds < 60) {
      return seconds + "s";
    }
    if (seconds < 3600) {
      return String.format(Locale.ROOT, "%dm%02ds", seconds / 60, seconds % 60);
    }
    return String.format(Locale.ROOT, "%dh%02dm", seconds / 3600, seconds / 60 % 60);
  }

  /** The numbers of the stage an operation is in: bytes, speed, ETA, file; empty when it has none. */
  static String stageFacts(Operation op) {
    Operation.Stage stage = op.stage();
    List<String> parts = new ArrayList<>();
    // Rate, ETA and file only mean something while bytes move.
    boolean running = op.status() == OperationStatus.DOWNLOADING || op.status() == OperationStatus.LOADING;
    // Before downloading, a byte total is only the plan; the message says more.
    boolean planned = op.status() == OperationStatus.QUEUED || op.status() == OperationStatus.INITIALIZING;
    if (stage.bytesTotal() > 0 && !planned) {
      parts.add(bytesOf(stage.bytesDone(), stage.bytesTotal()));
    }
    if (running && stage.bytesPerSecond() > 0) {
      parts.add(rate(stage.bytesPerSecond()));
    }
    if (running && stage.etaSeconds() != null) {
      parts.add("ETA " + duration(stage.etaSeconds()));
    }
    if (running && stage.stalled()) {
      parts.add("stalled");
    }
    if (running && stage.currentFile() != null) {
      parts.add(stage.currentFile());
    }
    return String.join("  ", parts);
  }

  /** One line for a state of an operation: "downloading  33%  122.4/257.6 MiB  42.5 MiB/s  ETA 4s  file". */
  static String progressLine(Operation op) {
    String facts = stageFacts(op);
    String status = op.status() == null ? "?" : op.status().wireName();
    String line = String.format(Locale.ROOT, "%-12s %3d%%", status, op.progress());
    if (!facts.isEmpty()) {
      line += "  " + facts;
    }
    String file = op.stage().currentFile();
    // "Downloading <file>" says nothing the facts do not already say.
    if (op.message() != null && !(file != null && facts.contains(file) && op.message().contains(file))) {
      line += "  " + op.message();
    }
    return line;
  }

  /** The last line of a followed operation: what it ended as and why. */
  static String outcome(Operation op) {
    OperationStatus status = op.status();
    if (status == OperationStatus.COMPLETED) {
      String summary = summary(op.summary());
      return "completed: " + op.message() + (summary.isEmpty() ? "" : " (" + summary + ")");
    }
    if (status == OperationStatus.ERROR) {
      HoistException error = op.error();
      return "error: " + (error == null ? op.message() : error.getMessage() + " [" + error.code().wireName()
          + (error.retryable() ? ", retryable: hoist retry " + op.id() : "") + "]");
    }
    return status.wireName() + ": " + op.message();
  }

  static String summary(JsonObject summary) {
    if (summary == null) {
      return "";
    }
    List<String> parts = new ArrayList<>();
    if (summary.getString("format") != null) {
      parts.add(summary.getString("format"));
    }
    if (summary.getString("architecture") != null) {
      parts.add(summary.getString("architecture"));
    }
    if (summary.getValue("parameters") instanceof Number) {
      parts.add(count(summary.getLong("parameters")) + " parameters");
    }
    if (summary.getValue("bytes_resident") instanceof Number) {
      parts.add(bytes(summary.getLong("bytes_resident")) + " resident");
    }
    return String.join(", ", parts);
  }

  /** 4.2M, 1.1B. */
  static String count(long n) {
    if (n < 1000) {
      return String.valueOf(n);
    }
    String[] units = {"K", "M", "B", "T"};
    double value = n;
    int unit = -1;
    while (value >= 1000 && unit < units.length - 1) {
      value /= 1000;
      unit++;
    }
    return String.format(Locale.ROOT, "%.1f%s", value, units[unit]);
  }

  static String abbreviate(String text, int max) {
    if (text == null) {
      return "";
    }
    // ASCII: a terminal in the POSIX locale would show a '?' for an ellipsis.
    return text.length() <= max ? text : text.substring(0, Math.max(0, max - 3)) + "...";
  }

  /** Left-aligned columns two spaces apart, the last one not padded. */
  static String table(List<String> header, List<List<String>> rows) {
    int[] widths = new int[header.size()];
    for (int i = 0; i < widths.length; i++) {
      widths[i] = header.get(i).length();
      for (List<String> row : rows) {
        widths[i] = Math.max(widths[i], row.get(i).length());
      }
    }
    StringBuilder out = new StringBuilder();
    appendRow(out, header, widths);
    rows.forEach(row -> appendRow(out, row, widths));
    return out.toString();
  }

  private static void appendRow(StringBuilder out, List<String> cells, int[] widths) {
    for (int i = 0; i < cells.size(); i++) {
      String cell = cells.get(i);
      out.append(cell);
      if (i < cells.size() - 1) {
        out.append(" ".repeat(widths[i] - cell.length() + 2));
      }
    }
    out.append('\n');
  }
}
