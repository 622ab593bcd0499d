package dev.hoist.format;

import java.util.Objects;

/**
 * A model file that breaks a rule of its format. The message always has the shape
 * {@code "<file name>: <subject>: <rule>"}, for example
 * {@code "model.safetensors: tensor 'w': offsets not contiguous (expected begin 64, got 80)"}, so a
 * user can tell which file, which part of it and which rule without reading a stack trace.
 */
public class ModelFormatException extends Exception {

  private final String file;
  private final String subject;
  private final String rule;

  /**
   * @param file    the file's name (not its full path: messages are shown to users)
   * @param subject the part of the file at fault, e.g. {@code "tensor 'x'"}, {@code "key 'y'"}, {@code "header"}
   * @param rule    the rule it breaks, short, lower case
   */
  public ModelFormatException(String file, String subject, String rule) {
    super(file + ": " + subject + ": " + rule);
    this.file = Objects.requireNonNull(file, "file");
    this.subject = Objects.requireNonNull(subject, "subject");
    this.rule = Objects.requireNonNull(rule, "rule");
  }

  /** The name of the file at fault. */
  public String file() {
    return file;
  }

  /** The part of the file at fault, e.g. {@code "tensor 'model.embed.weight'"} or {@code "header"}. */
  public String subject() {
    return subject;
  }

  /** The rule the file breaks. */
  public String rule() {
    return rule;
  }

  /** The subject text for a tensor. */
  static String tensor(String name) {
    return "tensor '" + name + "'";
  }

  /** The subject text for a metadata key. */
  static String key(String name) {
    return "key '" + name + "'";
  }
}
