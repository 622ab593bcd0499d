package dev.hoist.cli;

import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;

/** Puts user input into URL paths safely. */
final class Paths {

  private Paths() {
  }

  /** One path segment, percent-encoded (a space is %20, not +). */
  static String segment(String text) {
    return URLEncoder.encode(text, StandardCharsets.UTF_8).replace("+", "%20");
  }

  /** A query parameter, or "" when {@code value} is null. */
  static String param(String name, Object value) {
    return value == null ? "" : "&" + name + "=" + URLEncoder.encode(String.valueOf(value), StandardCharsets.UTF_8);
  }
}
