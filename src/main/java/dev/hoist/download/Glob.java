package dev.hoist.download;

import java.util.regex.Pattern;

/**
 * A file-name pattern as huggingface_hub's {@code allow_patterns} read it (Python's fnmatch):
 * {@code *} matches any run of characters including {@code /}, {@code ?} one character,
 * {@code [abc]} / {@code [!abc]} a class; a pattern ending in {@code /} means everything under that
 * folder. Case-sensitive, like fnmatch on POSIX. So {@code include} behaves as users of
 * {@code huggingface-cli download --include} expect.
 */
final class Glob {

  private final String text;
  private final Pattern regex;

  private Glob(String text, Pattern regex) {
    this.text = text;
    this.regex = regex;
  }

  static Glob of(String pattern) {
    String p = pattern.endsWith("/") ? pattern + "*" : pattern;
    StringBuilder re = new StringBuilder();
    int i = 0;
    while (i < p.length()) {
      char c = p.charAt(i++);
      if (c == '*') {
        re.append(".*");
      } else if (c == '?') {
        re.append('.');
      } else if (c == '[') {
        // A class, as fnmatch reads it: "!" first negates, a "]" first is a member.
        int j = i;
        if (j < p.length() && p.charAt(j) == '!') {
          j++;
        }
        if (j < p.length() && p.charAt(j) == ']') {
          j++;
        }
        int close = p.indexOf(']', j);
        if (close < 0) {
          re.append("\\[");
          continue;
        }
        String body = p.substring(i, close);
        i = close + 1;
        boolean negate = body.startsWith("!");
        re.append(negate ? "[^" : "[");
        for (char b : (negate ? body.substring(1) : body).toCharArray()) {
          if (b == '\\' || b == '[' || b == ']' || b == '&' || b == '^') {
            re.append('\\');
          }
          re.append(b);
        }
        re.append(']');
      } else {
        re.append(Pattern.quote(String.valueOf(c)));
      }
    }
    return new Glob(pattern, Pattern.compile(re.toString(), Pattern.DOTALL));
  }

  boolean matches(String path) {
    return regex.matcher(path).matches();
  }

  @Override
  public String toString() {
    return text;
  }
}
