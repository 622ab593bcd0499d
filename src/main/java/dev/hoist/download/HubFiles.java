package dev.hoist.download;

import dev.hoist.contract.ErrorCode;
import dev.hoist.contract.HoistException;
import io.vertx.core.Future;
import io.vertx.core.http.HttpClient;
import io.vertx.core.http.HttpClientResponse;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.RequestOptions;
import io.vertx.core.Vertx;
import io.vertx.core.net.NetClient;
import java.net.URI;
import java.util.HashSet;
import java.util.Set;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * GET requests for file contents. Redirects are followed by hand, so the token goes only to the
 * configured hub's own origin: a hub redirects downloads to a CDN, and the CDN must never see it.
 *
 * <p>Each request goes over Hoist's lean HTTP/1.1 reader ({@link DirectGet}) unless
 * HOIST_DOWNLOAD_DIRECT is off; an origin whose file bodies that reader cannot take (chunked, no
 * length) is asked again, and from then on, through Vert.x's HTTP client.
 */
final class HubFiles {

  private static final int MAX_REDIRECTS = 5;
  /** Error bodies up to this size are read to keep the connection; larger ones close it instead. */
  private static final long DRAIN_LIMIT = 64 << 10;

  private static final Logger log = LoggerFactory.getLogger(HubFiles.class);

  private final Vertx vertx;
  private final HttpClient http;
  /** Null: every request through {@link #http}. */
  private final NetClient net;
  private final HubClient hubs;
  /** Origins whose file answers the lean reader could not take. */
  private final Set<String> clientOnly = new HashSet<>();

  HubFiles(Vertx vertx, HttpClient http, NetClient net, HubClient hubs) {
    this.vertx = vertx;
    this.http = http;
    this.net = net;
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
   * {@code onRequest} receives, for every request sent (one per hop), a way to reset it, so a
   * watchdog can. The answer is paused: the caller starts its body once it has judged the head.
   * {@code limited}: a bandwidth limit applies to the body (it is then read in small pieces).
   */
  Future<FileAnswer> get(String hub, String url, String range, Consumer<Runnable> onRequest, boolean limited) {
    return get(hub, url, range, onRequest, limited, 0);
  }

  private Future<FileAnswer> get(String hub, String url, String range, Consumer<Runnable> onRequest, boolean limited,
      int redirects) {
    String auth = hubs.authorization(hub);
    String sentAuth = auth != null && sameOrigin(url, hubs.endpoint(hub)) ? auth : null;
    return send(url, range, sentAuth, onRequest, limited).compose(answer -> {
      int status = answer.status();
      String location = answer.header("Location");
      if (status >= 300 && status < 400 && location != null) {
        answer.discard();
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
        return get(hub, next.toString(), range, onRequest, limited, redirects + 1);
      }
      return Future.succeededFuture(answer);
    });
  }

  /** One request, over the lean reader where it can take the answer, else through the HTTP client. */
  private Future<FileAnswer> send(String url, String range, String auth, Consumer<Runnable> onRequest, boolean limited) {
    URI uri = URI.create(url);
    String origin = origin(uri);
    if (net == null || clientOnly.contains(origin)) {
      return viaClient(url, range, auth, onRequest);
    }
    return DirectGet.send(vertx, net, uri, range, auth, onRequest, HubClient.CONNECT_DEADLINE_MS, limited).recover(err -> {
      if (!(err instanceof DirectGet.NotDirect)) {
        return Future.failedFuture(err);
      }
      if (clientOnly.add(origin)) {
        log.info("{}: {}; its files go through the HTTP client from now on", origin, err.getMessage());
      }
      return viaClient(url, range, auth, onRequest);
    });
  }

  private Future<FileAnswer> viaClient(String url, String range, String auth, Consumer<Runnable> onRequest) {
    RequestOptions options = new RequestOptions().setMethod(HttpMethod.GET).setAbsoluteURI(url).setFollowRedirects(false);
    if (range != null) {
      options.putHeader("Range", range);
    }
    if (auth != null) {
      options.putHeader("Authorization", auth);
    }
    return HubClient.connect(http, options).compose(req -> {
      onRequest.accept(() -> req.reset());
      return req.send();
    }).map(resp -> {
      resp.pause(); // until the caller has its handlers in place
      return FileAnswer.of(resp);
    });
  }

  /** scheme://host:port, lower case, the port spelled out: two URIs of one origin give the same text. */
  private static String origin(URI u) {
    return (u.getScheme() == null ? "" : u.getScheme().toLowerCase()) + "://" + (u.getHost() == null ? "" : u.getHost().toLowerCase())
        + ":" + port(u);
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
    return x.getScheme() != null && x.getHost() != null && origin(x).equals(origin(URI.create(b)));
  }

  /** The URI's port, or its scheme's default. */
  static int port(URI u) {
    return u.getPort() >= 0 ? u.getPort() : "https".equalsIgnoreCase(u.getScheme()) ? 443 : 80;
  }
}
