package dev.hoist.download;

import dev.hoist.contract.ErrorCode;
import dev.hoist.contract.HoistException;
import java.util.regex.Pattern;

/** One file of a hub repository at a commit, as the tree API lists it. */
final class RemoteFile {

  private static final Pattern GIT_SHA1 = Pattern.compile("[0-9a-f]{40}");
  private static final Pattern SHA256 = Pattern.compile("[0-9a-f]{64}");

  final String path;
  final long size;
  /** The git blob id; for LFS files, of the pointer file. */
  final String oid;
  /** For LFS files, the sha256 of the content; else null. */
  final String lfsSha256;

  RemoteFile(String path, long size, String oid, String lfsSha256) {
    this.path = SafePaths.checkRepoPath(path);
    if (size < 0) {
      throw new HoistException(ErrorCode.HUB_ERROR, "hub listed " + path + " with a negative size");
    }
    if (lfsSha256 != null ? !SHA256.matcher(lfsSha256).matches() : oid == null || !GIT_SHA1.matcher(oid).matches()) {
      throw new HoistException(ErrorCode.HUB_ERROR, "hub listed " + path + " without a valid content hash");
    }
    this.size = size;
    this.oid = oid;
    this.lfsSha256 = lfsSha256;
  }

  boolean isLfs() {
    return lfsSha256 != null;
  }

  /** huggingface_hub's blob name: the LFS sha256, else the git blob id. */
  String etag() {
    return isLfs() ? lfsSha256 : oid;
  }
}
