package dev.hoist.download;

/**
 * Keeps the hub token out of everything the stage says: messages and log lines it reports, errors,
 * and its own log output. Hoist never puts the token in a message on purpose; this catches text that
 * comes from elsewhere (a hub's answer, an exception) and happens to carry it.
 */
final class Redactor {

  static final String MASK = "[HF_TOKEN]";

  private final String token;

  Redactor(String token) {
    this.token = token == null || token.isBlank() ? null : token;
  }

  String scrub(String text) {
    return token == null || text == null || !text.contains(token) ? text : text.replace(token, MASK);
  }
}
