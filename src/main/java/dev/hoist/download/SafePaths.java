package dev.hoist.download;

import dev.hoist.contract.ErrorCode;
import dev.hoist.contract.HoistException;
import dev.hoist.contract.ModelRef;

/**
 * File names that come from a hub become paths on our disk: refuse anything that could leave the
 * snapshot directory before a single file is created (cf. CVE-2024-37032).
 */
final class SafePaths {

  private SafePaths() {
  }

  static String checkRepoPath(String path) {
    if (path == null || path.isEmpty() || path.length() > 1024
        || path.startsWith("/") || path.contains("\\") || path.contains("\0")
        || path.matches("^[A-Za-z]:.*") || path.endsWith("/")) {
      throw unsafe(path);
    }
    for (String segment : path.split("/", -1)) {
      if (segment.isEmpty() || segment.equals(".") || segment.equals("..")) {
        throw unsafe(path);
      }
    }
    return path;
  }

  private static HoistException unsafe(String path) {
    return new HoistException(ErrorCode.HUB_ERROR,
        "hub listed an unsafe file path '" + ModelRef.abbreviate(String.valueOf(path)) + "'; refusing to download it");
  }
}
