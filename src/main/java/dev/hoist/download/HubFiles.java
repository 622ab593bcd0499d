package dev.hoist.download;

import dev.hoist.contract.ErrorCode;
import dev.hoist.contract.HoistException;
import io.vertx.core.Future;
import io.vertx.core.http.HttpClient;
import io.vertx.core.http.HttpClientRequest;
import io.vertx.core.http.HttpClientResponse;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.RequestOptions;
import java.net.URI;
import java.util.function.Consumer;

/**
 * GET requests for file contents. Redirects are followed by hand, so the token goes only to the
 * configured hub's own origin: a hub redirects downloads to a CDN, and the CDN must never see it.
 */
final class HubFiles {

  private static final int MAX_REDIRECTS = 5;
  /** Error bodies up to this size are read to keep the connection; larger ones close it instead. */
  private static final long DRAIN_LIMIT = 64 << 10;

  private final HttpClient http;
  private final HubClient hubs;

  HubFiles(HttpClient http, HubClient hubs) {
    this.http = http;
    this.hubs = hubs;
  }

  /** The URL of a file of a repo at a commit on a hub. */
  String url(String hub, String repo, String commit, RemoteFile f) {
    StringBuilder path = new StringBuilder();
    for (String segment : f.path.split("/")) {
      path.append('/').append(HubClient.encode(segment));
    }
    return hubs.endpoint(hub) + "/" + repo + "/resolve/" + commit + path;
  }

  /**
   * GETs {@code url} with {@code range} (a Range header value, or null), following redirects.
   * {@code onRequest} sees every request sent (one per hop), so a watchdog can reset it. The
   * response is paused: the caller resumes it once its handlers are set.
   */
  Future<HttpClientResponse> get(String hub, String url, String range, Consumer<HttpClientRequest> onRequest) {
    return get(hub, url, range, onRequest, 0);
  }

  private Future<HttpClientResponse> get(String hub, String url, String range, Consumer<HttpClientRequest> onRequest, int redirects) {
    RequestOptions options = new RequestOptions().setMethod(HttpMethod.GET).setAbsoluteURI(url).setFollowRedirects(false);
    if (range != null) {
      options.putHeader("Range", range);
    }
    String auth = hubs.authorization(hub);
    if (auth != null && sameOrigin(url, hubs.endpoint(hub))) {
      options.putHeader("Authorization", auth);
    }
    return HubClient.connect(http, options).compose(req -> {
      onRequest.accept(req);
      return req.send();
    }).compose(resp -> {
      resp.pause(); // until the caller has its handlers in place
      int status = resp.statusCode();
      String location = resp.getHeader("Location");
      if (status >= 300 && status < 400 && location != null) {
        discard(resp);
        if (redirects >= MAX_REDIRECTS) {
          return Future.failedFuture(new HoistException(ErrorCode.HUB_ERROR, "the hub redirected more than " + MAX_REDIRECTS
              + " times for one file"));
        }
        URI next;
        try {
          next = URI.create(url).resolve(location);
        } catch (IllegalArgumentException e) {
          return Future.failedFuture(new HoistException(ErrorCode.HUB_ERROR, "the hub redirected to an invalid address"));
        }
        if (next.getScheme() == null || !next.getScheme().matches("(?i)https?") || next.getHost() == null) {
          return Future.failedFuture(new HoistException(ErrorCode.HUB_ERROR, "the hub redirected to a non-HTTP address; refusing to follow it"));
        }
        String refused = RedirectPolicy.refusal(URI.create(hubs.endpoint(hub)), next);
        if (refused != null) {
          return Future.failedFuture(new HoistException(ErrorCode.HUB_ERROR, "the hub redirected " + refused + "; refusing to follow it"));
        }
        return get(hub, next.toString(), range, onRequest, redirects + 1);
      }
      return Future.succeededFuture(resp);
    });
  }

  /** Drops a response body we do not want: a small one is read (the connection stays usable), a large one closes it. */
  static void discard(HttpClientResponse resp) {
    String length = resp.getHeader("Content-Length");
    boolean small = length != null && length.matches("\\d{1,18}") && Long.parseLong(length) <= DRAIN_LIMIT;
    resp.exceptionHandler(err -> { }); // the body is unwanted, so is news of its end
    if (small) {
      resp.body();
      resp.resume();
    } else {
      resp.request().reset();
    }
  }

  static boolean sameOrigin(String a, String b) {
    URI x = URI.create(a);
    URI y = URI.create(b);
    return x.getScheme() != null && x.getScheme().equalsIgnoreCase(y.getScheme()) && x.getHost() != null
        && x.getHost().equalsIgnoreCase(y.getHost()) && port(x) == port(y);
  }

  private static int port(URI u) {
    return u.getPort() >= 0 ? u.getPort() : "https".equalsIgnoreCase(u.getScheme()) ? 443 : 80;
  }
}
