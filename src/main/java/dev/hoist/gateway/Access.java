package dev.hoist.gateway;

import dev.hoist.HoistConfig;
import dev.hoist.contract.ErrorCode;
import dev.hoist.contract.HoistException;
import io.vertx.core.MultiMap;
import io.vertx.core.http.HttpMethod;
import io.vertx.ext.web.RoutingContext;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.List;
import java.util.Locale;

/**
 * Who may do what. With HOIST_API_TOKEN set, every mutating request and (with
 * HOIST_AUTH_PROTECT_READS) every read and the WebSocket must carry it as a bearer token. A browser
 * can open the WebSocket only from the dashboard's own origin or an allowed one (no cross-site
 * WebSocket hijacking).
 */
final class Access {

  private final String token;
  private final boolean protectReads;
  private final List<String> allowedOrigins;

  Access(HoistConfig config) {
    this.token = config.apiToken();
    this.protectReads = config.protectReads();
    this.allowedOrigins = config.allowedOrigins();
  }

  /**
   * Refuses a configuration that would expose Hoist on a network without a token. Binding
   * loopback needs nothing; anything else needs a token or an explicit HOIST_ALLOW_INSECURE=true.
   */
  static void checkBind(HoistConfig config) {
    String host = config.httpHost();
    boolean loopback = host.equals("localhost") || host.startsWith("127.") || host.equals("::1") || host.equals("[::1]");
    if (!loopback && config.apiToken() == null && !config.allowInsecure()) {
      throw new HoistException(ErrorCode.FORBIDDEN, "refusing to listen on " + host + " without HOIST_API_TOKEN: anyone who can reach"
          + " this address could start and cancel loads. Set HOIST_API_TOKEN, bind 127.0.0.1, or set HOIST_ALLOW_INSECURE=true"
          + " if the network is trusted");
    }
  }

  /** Route handler for the API: lets the request through or fails it with 401. */
  void handle(RoutingContext ctx) {
    HttpMethod method = ctx.request().method();
    boolean read = method == HttpMethod.GET || method == HttpMethod.HEAD || method == HttpMethod.OPTIONS;
    if (token == null || read && !protectReads || presented(ctx.request().headers(), null)) {
      ctx.next();
      return;
    }
    ctx.response().putHeader("WWW-Authenticate", "Bearer realm=\"hoist\"");
    ctx.fail(new HoistException(ErrorCode.UNAUTHORIZED, "this request needs the API token: send Authorization: Bearer <HOIST_API_TOKEN>"));
  }

  /** For a WebSocket handshake: null if allowed, else the status to reject it with. */
  Integer checkWebSocket(MultiMap headers, String query, String scheme, String authority) {
    String origin = headers.get("Origin");
    // Browsers always send Origin; other clients (CLI, scripts) may not and are not at risk.
    if (origin != null && !sameOrigin(origin, scheme, authority) && !allowedOrigins.contains(origin)) {
      return 403;
    }
    if (token != null && protectReads && !presented(headers, query)) {
      return 401;
    }
    return null;
  }

  /** The bearer header, or (WebSocket only, browsers cannot set headers there) an access_token query parameter. */
  private boolean presented(MultiMap headers, String query) {
    String auth = headers.get("Authorization");
    String given = null;
    if (auth != null && auth.regionMatches(true, 0, "Bearer ", 0, 7)) {
      given = auth.substring(7).trim();
    } else if (query != null) {
      for (String pair : query.split("&")) {
        if (pair.startsWith("access_token=")) {
          given = java.net.URLDecoder.decode(pair.substring("access_token=".length()), StandardCharsets.UTF_8);
        }
      }
    }
    // Constant time, so the token cannot be guessed byte by byte from response times.
    return given != null && MessageDigest.isEqual(given.getBytes(StandardCharsets.UTF_8), token.getBytes(StandardCharsets.UTF_8));
  }

  private static boolean sameOrigin(String origin, String scheme, String authority) {
    try {
      URI o = URI.create(origin);
      String expectedScheme = "https".equals(scheme) || "wss".equals(scheme) ? "https" : "http";
      return expectedScheme.equalsIgnoreCase(o.getScheme()) && authority != null
          && authority.toLowerCase(Locale.ROOT).equals(o.getRawAuthority() == null ? "" : o.getRawAuthority().toLowerCase(Locale.ROOT));
    } catch (IllegalArgumentException e) {
      return false;
    }
  }
}
