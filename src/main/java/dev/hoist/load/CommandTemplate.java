package dev.hoist.load;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * A native service's command line: split into arguments the way a POSIX shell splits words, but
 * without running a shell, then placeholders filled in per argument. A model path with spaces or
 * shell characters therefore stays one argument and is never interpreted: there is no injection.
 *
 * <p>Quoting: {@code '...'} is literal, {@code "..."} allows {@code \"} and {@code \\}, a backslash
 * outside quotes escapes the next character. No globbing, variables, pipes or redirections: to get
 * those, write the template as {@code sh -c '...'} explicitly. Inside such a script the placeholders
 * are pasted in as text, so prefer the environment variables every native service also gets
 * ({@code "$HOIST_MODEL_PATH"}, {@code "$HOIST_MODEL_DIR"}, {@code "$HOIST_MODEL"},
 * {@code "$HOIST_PORT"}), which the shell quotes correctly.
 */
final class CommandTemplate {

  /** The placeholders, each with the environment variable carrying the same value. */
  static final Map<String, String> PLACEHOLDERS = Map.of(
      "{path}", "HOIST_MODEL_PATH",
      "{dir}", "HOIST_MODEL_DIR",
      "{model}", "HOIST_MODEL",
      "{port}", "HOIST_PORT");

  private CommandTemplate() {
  }

  /** Splits {@code template} into arguments; throws {@link IllegalArgumentException} for an unclosed quote. */
  static List<String> tokenize(String template) {
    List<String> out = new ArrayList<>();
    StringBuilder word = new StringBuilder();
    boolean inWord = false;
    char quote = 0;
    for (int i = 0; i < template.length(); i++) {
      char c = template.charAt(i);
      if (quote == '\'') {
        if (c == '\'') {
          quote = 0;
        } else {
          word.append(c);
        }
      } else if (quote == '"') {
        if (c == '"') {
          quote = 0;
        } else if (c == '\\' && i + 1 < template.length() && (template.charAt(i + 1) == '"' || template.charAt(i + 1) == '\\')) {
          word.append(template.charAt(++i));
        } else {
          word.append(c);
        }
      } else if (Character.isWhitespace(c)) {
        if (inWord) {
          out.add(word.toString());
          word.setLength(0);
          inWord = false;
        }
      } else {
        inWord = true;
        if (c == '\'' || c == '"') {
          quote = c;
        } else if (c == '\\' && i + 1 < template.length()) {
          word.append(template.charAt(++i));
        } else {
          word.append(c);
        }
      }
    }
    if (quote != 0) {
      throw new IllegalArgumentException("unclosed " + quote + " in command template");
    }
    if (inWord) {
      out.add(word.toString());
    }
    return out;
  }

  /** Fills the known placeholders ({@code {path}} etc.) into each argument; other braces stay as they are. */
  static List<String> expand(List<String> tokens, Map<String, String> values) {
    List<String> out = new ArrayList<>(tokens.size());
    for (String token : tokens) {
      out.add(fill(token, values));
    }
    return out;
  }

  /** One pass, so a value that itself contains "{port}" (a strange path) is not filled in again. */
  static String fill(String text, Map<String, String> values) {
    StringBuilder out = new StringBuilder(text.length());
    int i = 0;
    outer:
    while (i < text.length()) {
      if (text.charAt(i) == '{') {
        for (Map.Entry<String, String> e : values.entrySet()) {
          if (text.startsWith(e.getKey(), i)) {
            out.append(e.getValue());
            i += e.getKey().length();
            continue outer;
          }
        }
      }
      out.append(text.charAt(i++));
    }
    return out.toString();
  }
}
