package dev.hoist.download;

import dev.hoist.contract.ErrorCode;
import dev.hoist.contract.HoistException;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpClient;
import io.vertx.core.http.HttpClientRequest;
import io.vertx.core.http.HttpClientResponse;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.RequestOptions;
import io.vertx.core.json.DecodeException;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.net.ConnectException;
import java.net.URI;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The hub's metadata API: which commit a revision is, and which files it has. Hubs are named in
 * configuration; a request can only pick one by name, never supply a URL. Answers are read as they
 * arrive and never beyond {@value #MAX_METADATA_BYTES} bytes (decompressed, for gzip): past that
 * the connection is dropped. Redirects are followed by hand, like the files' (see {@link HubFiles}):
 * at most {@value #MAX_REDIRECTS}, never where {@link RedirectPolicy} forbids, and the token only
 * to the hub's own origin.
 */
final class HubClient {

  private static final Pattern NEXT_LINK = Pattern.compile("<([^>]+)>\\s*;\\s*rel=\"next\"");
  private static final int MAX_METADATA_BYTES = 32 << 20;
  private static final int MAX_TREE_PAGES = 100;
  private static final int MAX_REDIRECTS = 5;
  /**
   * How long resolving the hub's name and connecting may take together. The client's connect
   * timeout starts only once the name is resolved, and a nameserver that never answers would hold
   * a request for as long as the resolver allows (a minute and more).
   */
  static final long CONNECT_DEADLINE_MS = 10_000;

  /** A metadata answer: its body, and its Link header (the tree API's pagination). */
  record Answer(Buffer body, String link) {
  }

  private final HttpClient http;
  private final Map<String, String> endpoints;
  private final String tokenHub;
  private final String token;
  private final long timeoutMs;

  /** {@code token} is sent only to {@code tokenHub}'s endpoint. */
  HubClient(HttpClient http, Map<String, String> endpoints, String tokenHub, String token, long timeoutMs) {
    this.http = http;
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
      String sha = json.getValue("sha") instanceof String s ? s : null;
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
        entries = new JsonArray(response.body().length() == 0 ? Buffer.buffer("[]") : response.body());
      } catch (DecodeException | ClassCastException e) {
        throw new HoistException(ErrorCode.HUB_ERROR, "hub's file list for " + repo + " is not JSON");
      }
      for (int i = 0; i < entries.size(); i++) {
        if (!(entries.getValue(i) instanceof JsonObject e)) {
          throw new HoistException(ErrorCode.HUB_ERROR, "hub's file list for " + repo + " has an entry that is not an object");
        }
        if (!"file".equals(e.getString("type"))) {
          continue;
        }
        try {
          JsonObject lfs = e.getJsonObject("lfs");
          long size = lfs != null ? lfs.getLong("size", e.getLong("size", -1L)) : e.getLong("size", -1L);
          files.add(new RemoteFile(e.getString("path"), size, e.getString("oid"), lfs == null ? null : lfs.getString("oid")));
        } catch (ClassCastException wrongType) {
          throw new HoistException(ErrorCode.HUB_ERROR, "hub's file list for " + repo + " has an entry with a field of the wrong type");
        }
      }
      String link = response.link();
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

  private Future<Answer> get(String hub, String url, String repo, String revision) {
    return get(hub, url, repo, revision, 0);
  }

  private Future<Answer> get(String hub, String url, String repo, String revision, int redirects) {
    String auth = authorization(hub);
    boolean sendAuth = auth != null && HubFiles.sameOrigin(url, endpoint(hub));
    RequestOptions options = new RequestOptions().setMethod(HttpMethod.GET).setAbsoluteURI(url).setFollowRedirects(false)
        .setIdleTimeout(timeoutMs).putHeader("Accept", "application/json").putHeader("Accept-Encoding", "gzip").putHeader("User-Agent", "hoist/0.1");
    if (sendAuth) {
      options.putHeader("Authorization", auth);
    }
    Promise<Answer> answer = Promise.promise();
    connect(http, options).compose(HttpClientRequest::send).onComplete(ar -> {
      if (ar.failed()) {
        answer.fail(unreachable(hub, ar.cause()));
        return;
      }
      HttpClientResponse response = ar.result();
      try {
        String location = response.getHeader("Location");
        if (response.statusCode() >= 300 && response.statusCode() < 400 && location != null) {
          HubFiles.discard(response);
          get(hub, redirectTarget(hub, url, location, redirects), repo, revision, redirects + 1).onComplete(answer);
          return;
        }
        checkStatus(response.statusCode(), response.getHeader("X-Error-Code"), response.getHeader("Retry-After"),
            repo, revision, null, sendAuth);
      } catch (RuntimeException e) {
        HubFiles.discard(response);
        answer.fail(e);
        return;
      }
      read(hub, response, answer);
    });
    return answer.future();
  }

  /** {@code http.request(options)}, failing after {@link #CONNECT_DEADLINE_MS} however long name resolution would take. */
  static Future<HttpClientRequest> connect(HttpClient http, RequestOptions options) {
    return http.request(options).timeout(CONNECT_DEADLINE_MS, TimeUnit.MILLISECONDS).recover(err -> Future.failedFuture(
        err instanceof TimeoutException ? new ConnectException("no connection to " + hostOf(options) + " within "
            + CONNECT_DEADLINE_MS / 1000 + " s (name resolution and connect)") : err));
  }

  private static String hostOf(RequestOptions options) {
    return options.getHost() != null ? options.getHost() : "the hub";
  }

  /** Reads a 2xx answer's body as it arrives, dropping the connection the moment it is too large. */
  private void read(String hub, HttpClientResponse response, Promise<Answer> answer) {
    String encoding = response.getHeader("Content-Encoding");
    String length = response.getHeader("Content-Length");
    String what = "hub's metadata answer";
    if (encoding != null && !encoding.isBlank() && !encoding.trim().equalsIgnoreCase("gzip") && !encoding.trim().equalsIgnoreCase("identity")) {
      fail(response, answer, new HoistException(ErrorCode.HUB_ERROR, what + " is encoded as '" + (encoding.length() > 40 ? encoding.substring(0, 40) + "…" : encoding)
          + "', which Hoist did not ask for"), null);
      return;
    }
    boolean gzip = encoding != null && encoding.trim().equalsIgnoreCase("gzip");
    BoundedBody body = new BoundedBody(MAX_METADATA_BYTES, gzip, what);
    if (!gzip && length != null && length.matches("\\d{1,18}") && Long.parseLong(length) > MAX_METADATA_BYTES) {
      fail(response, answer, new HoistException(ErrorCode.HUB_ERROR, what + " is larger than " + (MAX_METADATA_BYTES >> 20)
          + " MiB (Content-Length: " + length + "); not reading it"), body);
      return;
    }
    response.exceptionHandler(err -> {
      body.discard();
      answer.tryFail(unreachable(hub, err));
    });
    response.handler(chunk -> {
      if (answer.future().isComplete()) {
        return;
      }
      try {
        body.add(chunk);
      } catch (HoistException e) {
        fail(response, answer, e, null);
      }
    });
    response.endHandler(v -> {
      if (!answer.future().isComplete()) {
        try {
          answer.tryComplete(new Answer(body.finish(), response.getHeader("Link")));
        } catch (HoistException e) {
          answer.tryFail(e);
        }
      }
    });
  }

  /** Fails the answer and drops the connection, so no more of the body is read. */
  private static void fail(HttpClientResponse response, Promise<Answer> answer, HoistException why, BoundedBody body) {
    if (body != null) {
      body.discard();
    }
    answer.tryFail(why);
    response.exceptionHandler(err -> { });
    response.handler(null);
    response.request().reset();
  }

  private String redirectTarget(String hub, String url, String location, int redirects) {
    if (redirects >= MAX_REDIRECTS) {
      throw new HoistException(ErrorCode.HUB_ERROR, "the hub redirected more than " + MAX_REDIRECTS + " times for one metadata request"
          + " (a redirect loop?)");
    }
    URI next;
    try {
      next = URI.create(url).resolve(location);
    } catch (IllegalArgumentException e) {
      throw new HoistException(ErrorCode.HUB_ERROR, "the hub redirected to an invalid address");
    }
    if (next.getScheme() == null || !next.getScheme().matches("(?i)https?") || next.getHost() == null) {
      throw new HoistException(ErrorCode.HUB_ERROR, "the hub redirected to a non-HTTP address; refusing to follow it");
    }
    String refused = RedirectPolicy.refusal(URI.create(endpoint(hub)), next);
    if (refused != null) {
      throw new HoistException(ErrorCode.HUB_ERROR, "the hub redirected " + refused + "; refusing to follow it");
    }
    return next.toString();
  }

  private HoistException unreachable(String hub, Throwable err) {
    return new HoistException(ErrorCode.HUB_UNREACHABLE, "cannot reach the hub at " + endpoint(hub) + ": " + describe(err), true, err);
  }

  private static JsonObject parseObject(Answer response, String url) {
    try {
      return new JsonObject(response.body());
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
    String text = msg == null || msg.isBlank() ? err.getClass().getSimpleName() : msg;
    // A TLS failure says only "Failed to create SSL connection"; why (an untrusted certificate, a
    // name it was not issued for) is in the causes.
    for (Throwable cause = err.getCause(); cause != null && cause != cause.getCause(); cause = cause.getCause()) {
      if (cause instanceof javax.net.ssl.SSLException || cause instanceof java.security.cert.CertificateException) {
        String why = cause.getMessage() == null ? cause.getClass().getSimpleName() : cause.getMessage();
        if (why.contains("PKIX") || why.contains("unable to find valid certification path")) {
          why = "the hub's certificate is not trusted (" + why + "); set " + dev.hoist.HoistConfig.HUB_CA_FILE
              + " to the CA that issued it";
        }
        return text + ": " + why;
      }
    }
    return text;
  }
}
