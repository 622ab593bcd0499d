package dev.hoist.contract;

import java.util.regex.Pattern;

/**
 * A hub repository at a revision: {@code owner/name} or {@code owner/name@revision}. Validated
 * strictly, because a repo id ends up in URLs and cache directory names.
 */
public final class ModelRef {

  /** Hugging Face's rules for a repo id part: letters, digits, '-', '_', '.'; no "--" or "..". */
  private static final Pattern PART = Pattern.compile("[A-Za-z0-9](?:[A-Za-z0-9._-]{0,94}[A-Za-z0-9])?");
  private static final Pattern REVISION = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._/-]{0,127}");

  public final String repo;
  public final String revision;

  private ModelRef(String repo, String revision) {
    this.repo = repo;
    this.revision = revision;
  }

  public String owner() {
    return repo.substring(0, repo.indexOf('/'));
  }

  public String name() {
    return repo.substring(repo.indexOf('/') + 1);
  }

  /** True if {@code text} looks like a repo id rather than a catalog alias. */
  public static boolean looksLikeRepoId(String text) {
    return text.indexOf('/') >= 0;
  }

  /** Parses {@code owner/name[@revision]}; throws a {@link HoistException} (400) naming the problem. */
  public static ModelRef parse(String text, String defaultRevision) {
    String repo = text;
    String revision = defaultRevision;
    int at = text.indexOf('@');
    if (at >= 0) {
      repo = text.substring(0, at);
      revision = text.substring(at + 1);
    }
    return of(repo, revision);
  }

  public static ModelRef of(String repo, String revision) {
    String[] parts = repo.split("/", -1);
    if (parts.length != 2 || !validPart(parts[0]) || !validPart(parts[1])) {
      throw new HoistException(ErrorCode.INVALID_MODEL_NAME,
          "'" + abbreviate(repo) + "' is not a valid hub repo id: expected owner/name with letters, digits, '-', '_' or '.'");
    }
    if (!validRevision(revision)) {
      throw new HoistException(ErrorCode.INVALID_MODEL_NAME,
          "'" + abbreviate(revision) + "' is not a valid revision: expected a branch, tag or commit name");
    }
    return new ModelRef(repo, revision);
  }

  private static boolean validPart(String part) {
    return PART.matcher(part).matches() && !part.contains("--") && !part.contains("..");
  }

  public static boolean validRevision(String revision) {
    return revision != null && REVISION.matcher(revision).matches() && !revision.contains("..")
        && !revision.endsWith("/") && !revision.contains("//");
  }

  /** Keeps user input short in messages. */
  public static String abbreviate(String text) {
    if (text == null) {
      return "";
    }
    return text.length() <= 80 ? text : text.substring(0, 77) + "...";
  }

  @Override
  public String toString() {
    return repo + "@" + revision;
  }
}
