package dev.hoist.download;

import dev.hoist.contract.ErrorCode;
import dev.hoist.contract.HoistException;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * What a hub's answer to a request for bytes {@code [from, end)} of a file means, judged from its
 * status and headers before any byte of the body is used: a body to write (and how long it is), a
 * Range the hub ignored, a resume it refused — or an error that says plainly what was wrong (a size
 * that disagrees with the file list, a range other than the one asked for, 401/403, 404, ...).
 */
final class RangeAnswer {

  enum Kind {
    /** A body of {@link #length} bytes starting at {@code from}. */
    BODY,
    /** 200 to a Range request: the whole file follows. */
    IGNORED_RANGE,
    /** 416 to a resume of a stream: what we have is not a prefix the hub accepts. */
    REFUSED_RESUME
  }

  private static final Pattern CONTENT_RANGE = Pattern.compile("bytes (\\d{1,18})-(\\d{1,18})/(\\d{1,18}|\\*)");
  private static final Pattern UNSATISFIED_RANGE = Pattern.compile("bytes \\*/(\\d{1,18})");

  final Kind kind;
  final long length;

  private RangeAnswer(Kind kind, long length) {
    this.kind = kind;
    this.length = length;
  }

  /**
   * Judges {@code resp}, the answer to a request for {@code [from, end)} of {@code file}
   * ({@code rangeSent}: with a Range header; {@code stream}: the rest of a stream, not a fixed range).
   *
   * @throws HoistException for an answer whose body must not be used
   */
  static RangeAnswer judge(FileAnswer resp, RemoteFile file, long from, long end, boolean rangeSent, boolean stream,
      String repo, boolean hadToken) {
    int status = resp.status();
    if (status == 200) {
      checkLength(resp, file, file.size);
      return new RangeAnswer(rangeSent ? Kind.IGNORED_RANGE : Kind.BODY, file.size);
    }
    if (status == 206) {
      String header = resp.header("Content-Range");
      Matcher m = header == null ? null : CONTENT_RANGE.matcher(header.trim());
      if (m == null || !m.matches()) {
        throw wrongRange(file, from, end, header);
      }
      if (!m.group(3).equals("*") && Long.parseLong(m.group(3)) != file.size) {
        throw wrongSize(file, Long.parseLong(m.group(3)));
      }
      long first = Long.parseLong(m.group(1));
      long last = Long.parseLong(m.group(2));
      // A hub may send less than asked (we ask again for the rest), never other bytes or more.
      if (first != from || last < from || last > end - 1) {
        throw wrongRange(file, from, end, header);
      }
      checkLength(resp, file, last - from + 1);
      return new RangeAnswer(Kind.BODY, last - from + 1);
    }
    if (status == 416) {
      Matcher m = UNSATISFIED_RANGE.matcher(String.valueOf(resp.header("Content-Range")).trim());
      if (m.matches() && Long.parseLong(m.group(1)) != file.size) {
        throw wrongSize(file, Long.parseLong(m.group(1)));
      }
      if (stream && from > 0) {
        return new RangeAnswer(Kind.REFUSED_RESUME, 0);
      }
      throw wrongRange(file, from, end, resp.header("Content-Range"));
    }
    HubClient.checkStatus(status, resp.header("X-Error-Code"), resp.header("Retry-After"), repo, null, file.path, hadToken);
    throw new HoistException(ErrorCode.HUB_ERROR, "the hub answered HTTP " + status + " for " + file.path);
  }

  private static void checkLength(FileAnswer resp, RemoteFile file, long expected) {
    String length = resp.header("Content-Length");
    if (length != null && length.trim().matches("\\d{1,18}") && Long.parseLong(length.trim()) != expected) {
      long announced = Long.parseLong(length.trim());
      throw resp.status() == 200 ? wrongSize(file, announced)
          : new HoistException(ErrorCode.HUB_ERROR, "the hub announced " + announced + " bytes for a range of " + expected
              + " bytes of " + file.path, true, null);
    }
  }

  static HoistException wrongSize(RemoteFile file, long served) {
    return new HoistException(ErrorCode.HUB_ERROR, "the hub listed " + file.path + " as " + file.size + " bytes but serves "
        + served + " bytes; its file list and its file disagree, so the download was stopped", true, null);
  }

  private static HoistException wrongRange(RemoteFile file, long from, long end, String header) {
    // The header is the hub's text: shown short and only with the characters a range has.
    String shown = header == null ? "none"
        : "'" + header.replaceAll("[^0-9a-zA-Z */-]", "?").substring(0, Math.min(60, header.length())) + "'";
    return new HoistException(ErrorCode.HUB_ERROR, "the hub answered a request for bytes " + from + "-" + (end - 1) + " of "
        + file.path + " with the wrong range (Content-Range " + shown + "); refusing the data", true, null);
  }
}
