package dev.hoist.support;

import dev.hoist.mirror.HubMirror;
import io.vertx.core.Future;
import io.vertx.core.Handler;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpClient;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerResponse;
import io.vertx.core.http.RequestOptions;
import io.vertx.core.json.JsonArray;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Function;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A hub for download tests that misbehaves on request: a real HTTP server (on 127.0.0.1, or another
 * loopback address) serving a directory with the hub protocol. Metadata comes from the mirror code
 * Hoist embeds; file contents are served here, so each answer can be shaped per request — cut after
 * N bytes, stalled, dripped, with Range ignored or a wrong Content-Range, corrupted, a status, a
 * redirect — and every body byte really handed to the network is counted. A repo {@linkplain
 * #spare spared} is served plainly by the mirror, untouched by any fault and left out of every
 * count: the healthy model a fault test runs alongside the faulty one.
 */
public final class FaultHub {

  private static final Pattern RESOLVE = Pattern.compile("/hub/([^/]+)/([^/]+)/resolve/([^/]+)/(.+)");
  private static final Pattern RANGE = Pattern.compile("bytes=(\\d+)-(\\d*)");
  private static final String PASS = "X-FaultHub-Pass";
  private static final int CHUNK = 64 << 10;

  /** One request for a file, as the hub saw it. */
  public static final class Seen {
    /** The path under the hub's endpoint: {@code /owner/name/resolve/commit/file}. */
    public final String path;
    public final String file;
    public final String range;
    public final String authorization;
    /** Which of Hoist's readers asked: "hoist/…" (its own), none (Vert.x's HTTP client). */
    public final String userAgent;
    public final long atNanos;

    Seen(String path, String file, String range, String authorization, String userAgent) {
      this.path = path;
      this.file = file;
      this.range = range;
      this.authorization = authorization;
      this.userAgent = userAgent;
      this.atNanos = System.nanoTime();
    }

    @Override
    public String toString() {
      return file + (range == null ? "" : " " + range);
    }
  }

  /** How to answer the {@code n}-th request (from 0) for a file. */
  public interface Plan {
    Answer answer(Seen request, int n);
  }

  /** One answer to a file request; {@link #normal()} unless shaped. */
  public static final class Answer {
    int status;
    final List<String[]> headers = new ArrayList<>();
    String location;
    long cutAfter = -1;
    long stallAfter = -1;
    boolean silent;
    long bytesPerSecond;
    boolean ignoreRange;
    String contentRange;
    boolean corrupt;
    boolean chunked;

    /** The file, honoring Range. */
    public static Answer normal() {
      return new Answer();
    }

    /** Just a status and headers, e.g. {@code status(429, "Retry-After", "1")}. */
    public static Answer status(int status, String... headerPairs) {
      Answer a = new Answer();
      a.status = status;
      for (int i = 0; i + 1 < headerPairs.length; i += 2) {
        a.headers.add(new String[] {headerPairs[i], headerPairs[i + 1]});
      }
      return a;
    }

    public static Answer redirect(String url) {
      Answer a = new Answer();
      a.status = 302;
      a.location = url;
      return a;
    }

    /** Never answers: no status line, the connection stays open. */
    public static Answer silence() {
      Answer a = new Answer();
      a.silent = true;
      return a;
    }

    /** Closes the connection after this many body bytes. */
    public Answer cutAfter(long bytes) {
      cutAfter = bytes;
      return this;
    }

    /** Sends this many body bytes, then nothing more; the connection stays open. */
    public Answer stallAfter(long bytes) {
      stallAfter = bytes;
      return this;
    }

    /** Sends at most this many bytes per second. */
    public Answer rate(long bytesPerSecond) {
      this.bytesPerSecond = bytesPerSecond;
      return this;
    }

    /** Answers a Range request with 200 and the whole file. */
    public Answer ignoreRange() {
      ignoreRange = true;
      return this;
    }

    /** Answers a Range request with 206 and this Content-Range instead of the right one. */
    public Answer contentRange(String header) {
      contentRange = header;
      return this;
    }

    /** Sends the body with chunked transfer encoding, without Content-Length. */
    public Answer chunked() {
      chunked = true;
      return this;
    }

    /** Flips one byte in the middle of the file. */
    public Answer corrupt() {
      corrupt = true;
      return this;
    }
  }

  private final Vertx vertx;
  private final Path root;
  private final String host;
  private HttpServer server;
  private HttpClient self;
  private final Map<String, Plan> plans = new ConcurrentHashMap<>();
  private final Map<String, AtomicInteger> counts = new ConcurrentHashMap<>();
  private final List<Seen> seen = new CopyOnWriteArrayList<>();
  private final List<RoutingContext> apiSeen = new CopyOnWriteArrayList<>();
  private final List<String> apiAuthorizations = new CopyOnWriteArrayList<>();
  private final Map<Path, Buffer> contents = new ConcurrentHashMap<>();
  private final AtomicLong bytesSent = new AtomicLong();
  private final Map<String, AtomicLong> bytesSentByFile = new ConcurrentHashMap<>();
  private final AtomicInteger inFlight = new AtomicInteger();
  private final AtomicInteger maxInFlight = new AtomicInteger();
  private final List<io.vertx.core.http.HttpConnection> held = new CopyOnWriteArrayList<>();
  private final List<String> spared = new CopyOnWriteArrayList<>();
  private volatile Handler<RoutingContext> api;
  private volatile Function<JsonArray, JsonArray> treeRewrite;

  private FaultHub(Vertx vertx, Path root, String host) {
    this.vertx = vertx;
    this.root = root;
    this.host = host;
  }

  /** A hub over {@code root} ({@code <root>/<owner>/<name>/...}) on 127.0.0.1. */
  public static Future<FaultHub> start(Vertx vertx, Path root) {
    return start(vertx, root, "127.0.0.1");
  }

  public static Future<FaultHub> start(Vertx vertx, Path root, String host) {
    FaultHub hub = new FaultHub(vertx, root, host);
    HubMirror mirror = new HubMirror(vertx, root);
    Router router = Router.router(vertx);
    router.route("/hub/*").handler(hub::route);
    router.route("/hub/*").subRouter(mirror.router());
    hub.self = vertx.createHttpClient();
    return vertx.createHttpServer().requestHandler(router).listen(0, host).map(server -> {
      hub.server = server;
      return hub;
    });
  }

  /** The endpoint to give Hoist as HF_ENDPOINT. */
  public String endpoint() {
    return "http://" + host + ":" + server.actualPort() + "/hub";
  }

  /** Serves {@code repo} ({@code owner/name}) plainly: no plan, API handler or rewrite applies to it, and it is not counted. */
  public FaultHub spare(String repo) {
    spared.add(repo);
    return this;
  }

  /** Shapes the answers for one file of any repo ({@code model.safetensors}). */
  public FaultHub on(String file, Plan plan) {
    plans.put(file, plan);
    return this;
  }

  /** A handler in front of the metadata API (revision, tree); it calls {@code ctx.next()} to pass. */
  public FaultHub onApi(Handler<RoutingContext> handler) {
    this.api = handler;
    return this;
  }

  /** Rewrites the tree API's answer (the file list with sizes and hashes). */
  public FaultHub rewriteTree(Function<JsonArray, JsonArray> rewrite) {
    this.treeRewrite = rewrite;
    return this;
  }

  public List<Seen> seen() {
    return new ArrayList<>(seen);
  }

  public List<Seen> seen(String file) {
    return seen.stream().filter(s -> s.file.equals(file)).toList();
  }

  /** Authorization headers of metadata requests (null where there was none). */
  public List<String> apiAuthorizations() {
    return new ArrayList<>(apiAuthorizations);
  }

  /** Body bytes of files handed to the network, cut and stalled answers included. */
  public long bytesSent() {
    return bytesSent.get();
  }

  /** Body bytes of one file (of any repo) handed to the network. */
  public long bytesSent(String file) {
    AtomicLong n = bytesSentByFile.get(file);
    return n == null ? 0 : n.get();
  }

  /** The most file answers that were in flight at once. */
  public int maxParallel() {
    return maxInFlight.get();
  }

  public Future<Void> close() {
    held.forEach(c -> c.close());
    return server.close().compose(v -> self.close());
  }

  // ------------------------------------------------------------------ routing

  private void route(RoutingContext ctx) {
    String path = ctx.request().path();
    Matcher m = RESOLVE.matcher(path);
    if (ctx.request().getHeader(PASS) != null || isSpared(path)) {
      ctx.next();
    } else if (m.matches()) {
      file(ctx, m.group(1), m.group(2), m.group(4));
    } else {
      apiSeen.add(ctx);
      apiAuthorizations.add(ctx.request().getHeader("Authorization"));
      Handler<RoutingContext> h = api;
      Function<JsonArray, JsonArray> rewrite = treeRewrite;
      if (h != null) {
        h.handle(ctx);
      } else if (rewrite != null && path.contains("/tree/")) {
        rewriteTree(ctx, rewrite);
      } else {
        ctx.next();
      }
    }
  }

  private boolean isSpared(String path) {
    for (String repo : spared) {
      if (path.startsWith("/hub/" + repo + "/resolve/") || path.startsWith("/hub/api/models/" + repo + "/")) {
        return true;
      }
    }
    return false;
  }

  private void rewriteTree(RoutingContext ctx, Function<JsonArray, JsonArray> rewrite) {
    original(ctx).onSuccess(body -> ctx.response().putHeader("Content-Type", "application/json")
            .end(rewrite.apply(new JsonArray(body)).encode()))
        .onFailure(ctx::fail);
  }

  /** For an {@link #onApi} handler: the answer the hub would have given to this request. */
  public Future<Buffer> original(RoutingContext ctx) {
    RequestOptions options = new RequestOptions().setMethod(HttpMethod.GET).setHost(host).setPort(server.actualPort())
        .setURI(ctx.request().uri()).putHeader(PASS, "1");
    return self.request(options).compose(req -> req.send()).compose(resp -> resp.body());
  }

  private void file(RoutingContext ctx, String owner, String name, String file) {
    Seen request = new Seen(ctx.request().path().substring("/hub".length()), file, ctx.request().getHeader("Range"),
        ctx.request().getHeader("Authorization"), ctx.request().getHeader("User-Agent"));
    seen.add(request);
    int n = counts.computeIfAbsent(file, k -> new AtomicInteger()).getAndIncrement();
    Plan plan = plans.get(file);
    Answer answer = plan == null ? Answer.normal() : plan.answer(request, n);
    if (answer == null) {
      answer = Answer.normal();
    }
    Answer a = answer;
    if (a.silent) {
      held.add(ctx.request().connection());
      return;
    }
    if (a.location != null) {
      ctx.response().setStatusCode(a.status).putHeader("Location", a.location).end();
      return;
    }
    if (a.status != 0) {
      HttpServerResponse r = ctx.response().setStatusCode(a.status);
      a.headers.forEach(h -> r.putHeader(h[0], h[1]));
      r.end("{\"error\":\"fault injected\"}");
      return;
    }
    Path path = root.resolve(owner).resolve(name).resolve(file);
    Buffer cached = contents.get(path);
    Future<Buffer> bytes = cached != null ? Future.succeededFuture(cached)
        : vertx.fileSystem().readFile(path.toString()).andThen(ar -> {
          if (ar.succeeded()) {
            contents.put(path, ar.result());
          }
        });
    bytes.onSuccess(b -> serve(ctx, file, b, a)).onFailure(err -> ctx.response().setStatusCode(404)
        .putHeader("X-Error-Code", "EntryNotFound").end("{\"error\":\"no such file\"}"));
  }

  private void serve(RoutingContext ctx, String file, Buffer content, Answer a) {
    long size = content.length();
    long start = 0;
    long end = size - 1;
    HttpServerResponse r = ctx.response().putHeader("Accept-Ranges", "bytes").putHeader("Content-Type", "application/octet-stream");
    Matcher m = ctx.request().getHeader("Range") == null ? null : RANGE.matcher(ctx.request().getHeader("Range").trim());
    if (m != null && m.matches() && !a.ignoreRange) {
      start = Long.parseLong(m.group(1));
      end = m.group(2).isEmpty() ? size - 1 : Math.min(size - 1, Long.parseLong(m.group(2)));
      if (start >= size) {
        r.setStatusCode(416).putHeader("Content-Range", "bytes */" + size).end();
        return;
      }
      r.setStatusCode(206).putHeader("Content-Range", a.contentRange != null ? a.contentRange : "bytes " + start + "-" + end + "/" + size);
    } else {
      r.setStatusCode(200);
    }
    long length = end - start + 1;
    if (a.chunked) {
      r.setChunked(true);
    } else {
      r.putHeader("Content-Length", String.valueOf(length));
    }
    Buffer body = content.slice((int) start, (int) (end + 1));
    if (a.corrupt) {
      body = body.copy();
      long middle = size / 2 - start;
      if (middle >= 0 && middle < length) {
        body.setByte((int) middle, (byte) (body.getByte((int) middle) ^ 0x55));
      }
    }
    int now = inFlight.incrementAndGet();
    maxInFlight.accumulateAndGet(now, Math::max);
    Sender sender = new Sender(ctx, body, a, bytesSentByFile.computeIfAbsent(file, k -> new AtomicLong()));
    r.closeHandler(v -> sender.finish());
    sender.next();
  }

  /** Writes one body in chunks, at a rate, with back-pressure, cutting or stalling where asked. */
  private final class Sender {
    final RoutingContext ctx;
    final HttpServerResponse r;
    final Buffer body;
    final Answer a;
    final AtomicLong fileBytes;
    final long startNanos = System.nanoTime();
    int pos;
    boolean done;

    Sender(RoutingContext ctx, Buffer body, Answer a, AtomicLong fileBytes) {
      this.fileBytes = fileBytes;
      this.ctx = ctx;
      this.r = ctx.response();
      this.body = body;
      this.a = a;
    }

    void next() {
      while (!done) {
        if (a.cutAfter >= 0 && pos >= a.cutAfter) {
          finish();
          vertx.setTimer(50, t -> ctx.request().connection().close());
          return;
        }
        if (a.stallAfter >= 0 && pos >= a.stallAfter) {
          held.add(ctx.request().connection());
          finish();
          return;
        }
        if (pos >= body.length()) {
          finish();
          r.end();
          return;
        }
        if (r.writeQueueFull()) {
          r.drainHandler(v -> next());
          return;
        }
        if (a.bytesPerSecond > 0) {
          long due = startNanos + (long) (pos * 1e9 / a.bytesPerSecond);
          long waitMs = (due - System.nanoTime()) / 1_000_000;
          if (waitMs > 0) {
            vertx.setTimer(waitMs, t -> next());
            return;
          }
        }
        int limit = body.length();
        if (a.cutAfter >= 0) {
          limit = (int) Math.min(limit, a.cutAfter);
        }
        if (a.stallAfter >= 0) {
          limit = (int) Math.min(limit, a.stallAfter);
        }
        int chunk = a.bytesPerSecond > 0 ? (int) Math.max(1024, Math.min(CHUNK, a.bytesPerSecond / 20)) : CHUNK;
        int to = Math.min(limit, pos + chunk);
        bytesSent.addAndGet(to - pos);
        fileBytes.addAndGet(to - pos);
        r.write(body.slice(pos, to));
        pos = to;
      }
    }

    void finish() {
      if (!done) {
        done = true;
        inFlight.decrementAndGet();
      }
    }
  }
}
