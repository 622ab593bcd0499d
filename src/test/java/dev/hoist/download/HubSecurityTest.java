package dev.hoist.download;

import static dev.hoist.download.DownloadHarness.WEIGHTS;
import static dev.hoist.download.DownloadHarness.logs;
import static dev.hoist.download.DownloadHarness.sha256;
import static dev.hoist.support.TestSupport.await;
import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.classic.spi.ThrowableProxyUtil;
import ch.qos.logback.core.read.ListAppender;
import dev.hoist.HoistConfig;
import dev.hoist.support.FaultHub;
import dev.hoist.support.FaultHub.Answer;
import io.vertx.core.json.JsonObject;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;
import org.slf4j.LoggerFactory;

/**
 * What a hub must not get from Hoist, and what Hoist must not take from a hub: the token goes to
 * the hub's own origin only and appears in no progress, error or log line; a gated repo fails at
 * once naming HF_TOKEN; file names that could leave the cache are refused before any file exists.
 */
class HubSecurityTest extends DownloadFixture {

  private static final String TOKEN = "hf_TestSecretToken_9f8e7d6c5b4a3210";

  @Test
  void theTokenAppearsInNoProgressErrorOrLogWhateverTheHubDoes() throws Exception {
    LoggerContext logging = (LoggerContext) LoggerFactory.getILoggerFactory();
    Logger root = logging.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME);
    Logger hoistLogger = logging.getLogger("dev.hoist");
    Level before = hoistLogger.getLevel();
    ListAppender<ILoggingEvent> captured = new ListAppender<>();
    captured.setContext(logging);
    captured.start();
    root.addAppender(captured);
    hoistLogger.setLevel(Level.DEBUG);
    List<JsonObject> ops = new ArrayList<>();
    try {
      for (String repo : List.of("test/gated", "test/broken", "test/echo", "test/away", "test/cut", "test/badtree")) {
        h.repo(repo);
      }
      hub.on(WEIGHTS, (req, n) -> {
        String repo = req.path.substring(1, req.path.indexOf("/resolve/"));
        switch (repo) {
          case "test/gated":
            return Answer.status(401, "X-Echo", req.authorization);
          case "test/broken":
            return Answer.status(500, "X-Echo", req.authorization);
          case "test/echo":
            return n == 0 ? Answer.status(429, "Retry-After", req.authorization) : Answer.normal();
          case "test/away":
            return Answer.redirect("http://127.0.0.1:9/files?token=" + TOKEN);
          case "test/cut":
            return n == 0 ? Answer.normal().cutAfter(1000) : Answer.normal();
          default:
            return Answer.normal();
        }
      });
      hub.onApi(ctx -> {
        if (ctx.request().path().contains("test/badtree") && ctx.request().path().contains("/tree/")) {
          ctx.response().setStatusCode(400).putHeader("X-Error-Code", TOKEN).end("{\"error\":\"" + TOKEN + "\"}");
        } else {
          ctx.next();
        }
      });
      h.startHoist(new JsonObject().put(HoistConfig.HF_TOKEN, TOKEN).put(HoistConfig.DOWNLOAD_RETRIES, 1));

      for (String repo : List.of("test/gated", "test/broken", "test/echo", "test/away", "test/cut", "test/badtree")) {
        ops.add(h.loadBesideHealthy(repo));
      }
    } finally {
      root.detachAppender(captured);
      hoistLogger.setLevel(before);
    }

    assertThat(ops.stream().map(op -> op.getJsonObject("error") == null ? "completed" : op.getJsonObject("error").getString("code")))
        .containsExactly("gated_repo", "hub_unreachable", "completed", "hub_unreachable", "completed", "hub_error");
    assertThat(hub.seen(WEIGHTS)).as("the token did go to the hub").allMatch(s -> ("Bearer " + TOKEN).equals(s.authorization));
    assertThat(hub.apiAuthorizations()).isNotEmpty().allMatch(a -> ("Bearer " + TOKEN).equals(a));
    for (JsonObject op : ops) {
      assertThat(op.encode()).doesNotContain(TOKEN);
      for (JsonObject update : h.updates(op.getString("operation_id"))) {
        assertThat(update.encode()).doesNotContain(TOKEN);
      }
    }
    assertThat(captured.list).isNotEmpty();
    for (ILoggingEvent event : captured.list) {
      assertThat(event.getFormattedMessage()).doesNotContain(TOKEN);
      if (event.getThrowableProxy() != null) {
        assertThat(ThrowableProxyUtil.asString(event.getThrowableProxy())).doesNotContain(TOKEN);
      }
    }
  }

  @Test
  void theAuthorizationHeaderReachesTheHubButNotTheHostItRedirectsTo() throws Exception {
    FaultHub cdn = await(FaultHub.start(vertx, hubDir, "127.0.0.2"));
    h.repo("test/redir");
    hub.on(WEIGHTS, (req, n) -> Answer.redirect(cdn.endpoint() + req.path));
    h.startHoist(new JsonObject().put(HoistConfig.HF_TOKEN, TOKEN));

    JsonObject op = h.loadBesideHealthy("test/redir");
    assertThat(op.getString("status")).as("logs %s", logs(op)).isEqualTo("completed");
    assertThat(hub.seen(WEIGHTS)).hasSize(1);
    assertThat(hub.seen(WEIGHTS).get(0).authorization).isEqualTo("Bearer " + TOKEN);
    assertThat(cdn.seen(WEIGHTS)).hasSize(1);
    assertThat(cdn.seen(WEIGHTS).get(0).authorization).as("the second host gets no token").isNull();
    assertThat(cdn.bytesSent(WEIGHTS)).isEqualTo(DownloadHarness.defaultWeights().length);
    byte[] weights = DownloadHarness.defaultWeights();
    assertThat(sha256(Files.readAllBytes(h.blob("test/redir", sha256(weights))))).isEqualTo(sha256(weights));
  }

  @ParameterizedTest(name = "HTTP {0}, token set: {1}")
  @CsvSource({"401, false", "403, true"})
  void aGatedRepoFailsAtOnceNamingHfToken(int status, boolean withToken) throws Exception {
    h.repo("test/gated");
    hub.on(WEIGHTS, (req, n) -> Answer.status(status));
    h.startHoist(withToken ? new JsonObject().put(HoistConfig.HF_TOKEN, TOKEN) : new JsonObject());

    JsonObject op = h.loadBesideHealthy("test/gated");
    assertThat(op.getString("status")).isEqualTo("error");
    assertThat(op.getJsonObject("error").getString("code")).isEqualTo("gated_repo");
    assertThat(op.getJsonObject("error").getBoolean("retryable")).isFalse();
    assertThat(op.getString("message")).contains("HF_TOKEN").contains("model.safetensors").contains("HTTP " + status)
        .contains(withToken ? "has no access" : "set HF_TOKEN");
    assertThat(hub.seen(WEIGHTS)).as("no retries").hasSize(1);
    assertThat(logs(op)).doesNotContain("Retrying");
  }

  @ParameterizedTest(name = "path {0}")
  @ValueSource(strings = {"../x", "/etc/passwd", "a\\b", "C:x"})
  void anUnsafePathFromTheHubIsRefusedBeforeAnyFileIsCreated(String path) throws Exception {
    h.repo("test/unsafe");
    hub.rewriteTree(tree -> tree.add(new JsonObject().put("type", "file").put("path", path)
        .put("oid", "0123456789abcdef0123456789abcdef01234567").put("size", 5)));
    h.startHoist();

    JsonObject op = h.loadBesideHealthy("test/unsafe");
    assertThat(op.getString("status")).isEqualTo("error");
    assertThat(op.getJsonObject("error").getString("code")).isEqualTo("hub_error");
    assertThat(op.getString("message")).contains("unsafe file path");
    assertThat(hub.seen()).as("no file was requested").isEmpty();
    assertThat(h.repoDir("test/unsafe")).doesNotExist();
    assertThat(dataDir.resolve("x")).doesNotExist();
    assertThat(dataDir.resolve("hub/x")).doesNotExist();
    try (Stream<Path> all = Files.walk(dataDir)) {
      assertThat(all.map(p -> p.getFileName().toString())).noneMatch(n -> n.equals("passwd") || n.equals("x") || n.contains("\\"));
    }
  }
}
