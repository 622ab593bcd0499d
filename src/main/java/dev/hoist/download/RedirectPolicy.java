package dev.hoist.download;

import java.net.URI;
import java.util.Locale;
import java.util.Set;

/**
 * Where a hub may send us (SSRF): only to the hub's own scheme — an https hub never downgrades to
 * http — and never to link-local or cloud-metadata addresses, where a redirect could make Hoist
 * read instance credentials. Decided from the URL alone, before any connection is made.
 */
final class RedirectPolicy {

  private static final Set<String> METADATA_HOSTS = Set.of(
      "metadata.google.internal", "metadata", "metadata.azure.com", "instance-data", "instance-data.ec2.internal");

  private RedirectPolicy() {
  }

  /** Why following {@code target} from the hub {@code endpoint} is refused, or null if it is allowed. */
  static String refusal(URI endpoint, URI target) {
    String scheme = target.getScheme() == null ? "" : target.getScheme().toLowerCase(Locale.ROOT);
    if ("https".equalsIgnoreCase(endpoint.getScheme()) && !"https".equals(scheme)) {
      return "from https to " + scheme + " (" + target.getHost() + ")";
    }
    String host = target.getHost() == null ? "" : target.getHost().toLowerCase(Locale.ROOT);
    if (host.startsWith("[") && host.endsWith("]")) {
      host = host.substring(1, host.length() - 1);
    }
    if (METADATA_HOSTS.contains(host) || host.endsWith(".metadata.google.internal")) {
      return "to a cloud metadata host (" + host + ")";
    }
    if (host.matches("169\\.254\\.\\d{1,3}\\.\\d{1,3}")) {
      return "to a link-local address (" + host + ")";
    }
    if (host.matches("(?i)fe[89ab][0-9a-f]?:.*") || host.startsWith("fd00:ec2::")) {
      return "to a link-local or metadata IPv6 address (" + host + ")";
    }
    return null;
  }
}
