package dev.hoist.download;

import dev.hoist.contract.ErrorCode;
import dev.hoist.contract.HoistException;
import io.vertx.core.Future;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.DecodeException;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.client.HttpRequest;
import io.vertx.ext.web.client.HttpResponse;
import io.vertx.ext.web.client.WebClient;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The hub's metadata API: which commit a revision is, and which files it has. Hubs are named in
 * configuration; a request can only pick one by name, never supply a URL.
 */
final class HubClient {

  private static final Pattern NEXT_LINK = Pattern.compile("<([^>]+)>\\s*;\\s*rel=\"next\"");
  private static final int MAX_METADATA_BYTES = 32 << 20;
  private static final int MAX_TREE_PAGES = 100;

  private final WebClient web;
  private final Map<String, String> endpoints;
  private final String tokenHub;
  private final String token;
  private final long timeoutMs;

  /** {@code token} is sent only to {@code tokenHub}'s endpoint. */
  HubClient(WebClient web, Map<String, String> endpoints, String tokenHub, String token, long timeoutMs) {
    this.web = web;
    this.endpoints = endpoints;
    this.tokenHub = tokenHub;
    this.token = token;
    this.timeoutMs = timeoutMs;
  }

  String endpoint(String hub) {
    String endpoint = endpoints.get(hub);
    if (endpoint == null) {
      throw new HoistException(ErrorCode.BAD_REQUEST, "no hub named '" + hub + "' is configured");
    }
    return endpoint;
  }

  /** The Authorization header value for a hub, or null. */
  String authorization(String hub) {
    return token != null && hub.equals(tokenHub) ? "Bearer " + token : null;
  }

  /** Resolves a revision (branch, tag or commit) to its commit id. */
  Future<String> resolveCommit(String hub, String repo, String revision) {
    String url = endpoint(hub) + "/api/models/" + repo + "/revision/" + encode(revision);
    return get(hub, url, repo, revision).map(response -> {
      JsonObject json = parseObject(response, url);
      String sha = json.getString("sha");
      if (sha == null || !sha.matches("[0-9a-f]{40}")) {
        throw new HoistException(ErrorCode.HUB_ERROR, "hub answered for " + repo + "@" + revision + " without a commit id");
      }
      return sha;
    });
  }

  /** Every file of the repo at a commit, following the tree API's pagination. */
  Future<List<RemoteFile>> listFiles(String hub, String repo, String commit) {
    String url = endpoint(hub) + "/api/models/" + repo + "/tree/" + commit + "?recursive=true";
    List<RemoteFile> files = new ArrayList<>();
    return page(hub, repo, commit, url, files, 0).map(v -> files);
  }

  private Future<Void> page(String hub, String repo, String commit, String url, List<RemoteFile> files, int pages) {
    if (pages >= MAX_TREE_PAGES) {
      return Future.failedFuture(new HoistException(ErrorCode.HUB_ERROR, "hub's file list for " + repo + " has more than " + MAX_TREE_PAGES + " pages"));
    }
    return get(hub, url, repo, commit).compose(response -> {
      JsonArray entries;
      try {
        entries = new JsonArray(response.bodyAsBuffer() == null ? Buffer.buffer("[]") : response.bodyAsBuffer());
      } catch (DecodeException e) {
        throw new HoistException(ErrorCode.HUB_ERROR, "hub's file list for " + repo + " is not JSON");
      }
      for (int i = 0; i < entries.size(); i++) {
        JsonObject e = entries.getJsonObject(i);
        if (!"file".equals(e.getString("type"))) {
          continue;
        }
        JsonObject lfs = e.getJsonObject("lfs");
        long size = lfs != null ? lfs.getLong("size", e.getLong("size", -1L)) : e.getLong("size", -1L);
        files.add(new RemoteFile(e.getString("path"), size, e.getString("oid"), lfs == null ? null : lfs.getString("oid")));
      }
      String link = response.getHeader("Link");
      Matcher next = link == null ? null : NEXT_LINK.matcher(link);
      if (next != null && next.find()) {
        String nextUrl = next.group(1);
        if (!nextUrl.startsWith(endpoint(hub) + "/")) {
          throw new HoistException(ErrorCode.HUB_ERROR, "hub's pagination pointed outside the hub: refusing to follow it");
        }
        return page(hub, repo, commit, nextUrl, files, pages + 1);
      }
      return Future.succeededFuture();
    });
  }

  private Future<HttpResponse<Buffer>> get(String hub, String url, String repo, String revision) {
    HttpRequest<Buffer> request = web.getAbs(url).timeout(timeoutMs);
    String auth = authorization(hub);
    if (auth != null) {
      request.putHeader("Authorization", auth);
    }
    return request.send()
        .recover(err -> Future.failedFuture(new HoistException(ErrorCode.HUB_UNREACHABLE,
            "cannot reach the hub at " + endpoint(hub) + ": " + describe(err), true, err)))
        .map(response -> {
          checkStatus(response.statusCode(), response.getHeader("X-Error-Code"), response.getHeader("Retry-After"),
              repo, revision, null, auth != null);
          if (response.body() != null && response.body().length() > MAX_METADATA_BYTES) {
            throw new HoistException(ErrorCode.HUB_ERROR, "hub's metadata answer is larger than " + (MAX_METADATA_BYTES >> 20) + " MiB");
          }
          return response;
        });
  }

  private static JsonObject parseObject(HttpResponse<Buffer> response, String url) {
    try {
      return new JsonObject(response.bodyAsBuffer());
    } catch (DecodeException | NullPointerException | ClassCastException e) {
      throw new HoistException(ErrorCode.HUB_ERROR, "hub's answer is not a JSON object");
    }
  }

  /** Turns a hub's HTTP status into an error a user can act on; 2xx passes. */
  static void checkStatus(int status, String errorCode, String retryAfter, String repo, String revision, String file, boolean hadToken) {
    if (status >= 200 && status < 300) {
      return;
    }
    String what = file == null ? repo + "@" + revision : file + " of " + repo + (revision == null ? "" : "@" + revision);
    if (status == 401 || status == 403) {
      throw new HoistException(ErrorCode.GATED_REPO, "the hub refused access to " + what + " (HTTP " + status + "): the repo is gated or private; "
          + (hadToken ? "the token in HF_TOKEN has no access to it" : "accept its terms on the hub and set HF_TOKEN to a token with access"));
    }
    if (status == 404) {
      String thing = "RevisionNotFound".equals(errorCode) ? "revision '" + revision + "' of " + repo
          : "EntryNotFound".equals(errorCode) && file != null ? "file " + file + " in " + repo
          : "repo " + repo + (revision == null ? "" : " (revision '" + revision + "')");
      throw new HoistException(ErrorCode.MODEL_NOT_FOUND, thing + " was not found on the hub: check the name and revision");
    }
    if (status == 429 || status >= 500) {
      // Only a number or a date is quoted: a header is the hub's text, and messages reach users.
      String quoted = Retries.quotable(retryAfter);
      String wait = quoted == null ? "" : " (Retry-After: " + quoted + ")";
      throw new RetryableHubStatus(status, "the hub answered HTTP " + status + " for " + what + wait, retryAfter);
    }
    throw new HoistException(ErrorCode.HUB_ERROR, "the hub answered HTTP " + status + " for " + what);
  }

  /** A 429 or 5xx: worth trying again, after Retry-After if the hub said so. */
  static final class RetryableHubStatus extends HoistException {
    final String retryAfter;

    RetryableHubStatus(int status, String message, String retryAfter) {
      super(ErrorCode.HUB_ERROR, message, true, null);
      this.retryAfter = retryAfter;
    }
  }

  static String encode(String revision) {
    return URLEncoder.encode(revision, StandardCharsets.UTF_8).replace("+", "%20");
  }

  static String describe(Throwable err) {
    String msg = err.getMessage();
    return msg == null || msg.isBlank() ? err.getClass().getSimpleName() : msg;
  }
}
