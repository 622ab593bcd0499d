package dev.hoist.download;

import static dev.hoist.contract.EventBusContract.*;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.ArrayList;
import java.util.List;

/**
 * The request options of one download ({@code options} of {@code hoist.download.start}), already
 * validated by the registry. Any may be absent.
 */
final class DownloadOptions {

  static final DownloadOptions NONE = new DownloadOptions(List.of(), null, null, 0);

  final List<Glob> include;
  final String quantization;
  final String file;
  /** 0 = no limit of this operation's own (the global one still applies). */
  final long maxBytesPerSecond;

  DownloadOptions(List<Glob> include, String quantization, String file, long maxBytesPerSecond) {
    this.include = include;
    this.quantization = quantization;
    this.file = file;
    this.maxBytesPerSecond = maxBytesPerSecond;
  }

  static DownloadOptions from(JsonObject options) {
    if (options == null || options.isEmpty()) {
      return NONE;
    }
    List<Glob> include = new ArrayList<>();
    JsonArray patterns = options.getJsonArray(INCLUDE, new JsonArray());
    for (int i = 0; i < patterns.size(); i++) {
      include.add(Glob.of(patterns.getString(i)));
    }
    Number limit = options.getLong(MAX_BYTES_PER_SECOND, 0L);
    return new DownloadOptions(List.copyOf(include), blankToNull(options.getString(QUANTIZATION)),
        blankToNull(options.getString(FILE)), Math.max(0, limit.longValue()));
  }

  /** True when the user named the files: {@code file} and/or {@code include}. */
  boolean namesFiles() {
    return file != null || !include.isEmpty();
  }

  private static String blankToNull(String s) {
    return s == null || s.isBlank() ? null : s;
  }
}
