package dev.hoist.cli;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.WebSocket;
import io.vertx.core.http.WebSocketClient;
import io.vertx.core.http.WebSocketClientOptions;
import io.vertx.core.http.WebSocketConnectOptions;
import io.vertx.core.json.DecodeException;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.client.HttpRequest;
import io.vertx.ext.web.client.HttpResponse;
import io.vertx.ext.web.client.WebClient;
import io.vertx.ext.web.client.WebClientOptions;
import java.net.URI;
import java.net.URISyntaxException;
import java.time.Duration;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * Hoist's REST API and WebSocket as seen from the command line. Calls are made on a private Vert.x
 * and awaited on the CLI's main thread (never on an event loop); a 4xx answer becomes a
 * {@link CliFailure} with the server's own message and exit code 2, an unreachable server or a 5xx
 * exit code 3.
 */
final class ServerApi implements AutoCloseable {

  private static final Duration REQUEST_TIMEOUT = Duration.ofSeconds(30);

  private final Vertx vertx;
  private final WebClient web;
  /** Held for the command's life: Vert.x closes a client nobody references any more, mid-handshake. */
  private final WebSocketClient webSockets;
  private final String server;
  private final String host;
  private final int port;
  private final boolean ssl;
  /** Sent as {@code Authorization: Bearer}, or null. */
  private final String token;
  /** Where the API is mounted: "" normally, "/hoist" for a host application that mounted it there. */
  private final String basePath;

  private ServerApi(String server, URI uri, String token) {
    this.server = server;
    this.token = token == null || token.isBlank() ? null : token.trim();
    this.ssl = "https".equals(uri.getScheme());
    this.host = uri.getHost();
    this.port = uri.getPort() > 0 ? uri.getPort() : ssl ? 443 : 80;
    String path = uri.getRawPath() == null ? "" : uri.getRawPath();
    this.basePath = path.endsWith("/") ? path.substring(0, path.length() - 1) : path;
    this.vertx = Vertx.vertx();
    this.web = WebClient.create(vertx, new WebClientOptions().setConnectTimeout(5_000).setUserAgent("hoist-cli"));
    this.webSockets = vertx.createWebSocketClient(new WebSocketClientOptions().setConnectTimeout(5_000));
  }

  /** Checks {@code server} (http or https URL) before anything is started. */
  static ServerApi open(String server, String token) {
    URI uri;
    try {
      uri = new URI(server);
    } catch (URISyntaxException e) {
      throw new CliFailure(HoistCli.EXIT_USAGE, "--server '" + server + "' is not a URL like http://127.0.0.1:8080");
    }
    if (!("http".equals(uri.getScheme()) || "https".equals(uri.getScheme())) || uri.getHost() == null) {
      throw new CliFailure(HoistCli.EXIT_USAGE, "--server '" + server + "' is not an http(s) URL like http://127.0.0.1:8080");
    }
    return new ServerApi(server, uri, token);
  }

  Vertx vertx() {
    return vertx;
  }

  JsonObject get(String path) {
    return send(web.get(port, host, basePath + path), null);
  }

  JsonObject post(String path, JsonObject body) {
    return send(web.post(port, host, basePath + path), body == null ? new JsonObject() : body);
  }

  JsonObject delete(String path) {
    return send(web.delete(port, host, basePath + path), null);
  }

  /** Connects to {@code /api/llm/ws}. */
  WebSocket webSocket() {
    WebSocketConnectOptions options = new WebSocketConnectOptions()
        .setHost(host).setPort(port).setSsl(ssl).setURI(basePath + "/api/llm/ws");
    if (token != null) {
      options.addHeader("Authorization", "Bearer " + token);
    }
    return await(webSockets.connect(options));
  }

  private JsonObject send(HttpRequest<Buffer> request, JsonObject body) {
    request.ssl(ssl).timeout(REQUEST_TIMEOUT.toMillis());
    if (token != null) {
      request.bearerTokenAuthentication(token);
    }
    HttpResponse<Buffer> response = await(body == null ? request.send() : request.sendJsonObject(body));
    JsonObject json = parse(response);
    if (response.statusCode() >= 400) {
      JsonObject error = json == null ? null : json.getJsonObject("error");
      String message = error != null && error.getString("message") != null ? error.getString("message")
          : "the server answered " + response.statusCode() + " " + response.statusMessage();
      throw new CliFailure(response.statusCode() >= 500 ? HoistCli.EXIT_UNAVAILABLE : HoistCli.EXIT_REFUSED, message);
    }
    return json == null ? new JsonObject() : json;
  }

  private JsonObject parse(HttpResponse<Buffer> response) {
    Buffer body = response.body();
    if (body == null || body.length() == 0) {
      return null;
    }
    try {
      return body.toJsonObject();
    } catch (DecodeException | ClassCastException e) {
      if (response.statusCode() < 400) {
        throw new CliFailure(HoistCli.EXIT_UNAVAILABLE, server + " did not answer with JSON: is it a Hoist server?");
      }
      return null;
    }
  }

  /** Waits on the CLI's main thread for a result of the private Vert.x. */
  private <T> T await(Future<T> future) {
    try {
      return future.toCompletionStage().toCompletableFuture().get(REQUEST_TIMEOUT.toSeconds() + 5, TimeUnit.SECONDS);
    } catch (ExecutionException e) {
      Throwable cause = e.getCause() == null ? e : e.getCause();
      throw new CliFailure(HoistCli.EXIT_UNAVAILABLE, "cannot reach Hoist at " + server + ": " + describe(cause));
    } catch (TimeoutException e) {
      throw new CliFailure(HoistCli.EXIT_UNAVAILABLE, "Hoist at " + server + " did not answer in time");
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new CliFailure(HoistCli.EXIT_UNAVAILABLE, "interrupted");
    }
  }

  private static String describe(Throwable t) {
    return t.getMessage() == null ? t.getClass().getSimpleName() : t.getMessage();
  }

  @Override
  public void close() {
    try {
      vertx.close().toCompletionStage().toCompletableFuture().get(5, TimeUnit.SECONDS);
    } catch (Exception e) {
      // exiting anyway
    }
  }
}
