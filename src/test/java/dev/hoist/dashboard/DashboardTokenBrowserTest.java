package dev.hoist.dashboard;

import static dev.hoist.support.TestSupport.await;
import static org.assertj.core.api.Assertions.assertThat;

import dev.hoist.Hoist;
import dev.hoist.HoistConfig;
import dev.hoist.support.TestSupport;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.extension.TestWatcher;
import org.junit.jupiter.api.io.TempDir;
import org.openqa.selenium.By;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.support.ui.Select;

/**
 * The dashboard against a Hoist with {@code HOIST_API_TOKEN} set and reads protected: the page is
 * refused, asks for the token in a dialog, says so when a wrong one is entered, keeps the right one
 * in sessionStorage only, sends it on every request and on the WebSocket, and follows a load live.
 * The only console lines excused are the browser's own reports of the refusals the test causes
 * (a 401 answer, a WebSocket handshake refused without a token); no line may contain a token.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class DashboardTokenBrowserTest {

  private static final String TOKEN = "dashboard-token-5f2a9c";
  private static final String WRONG = "not-the-token-77e1";
  private static final Duration QUICK = Duration.ofSeconds(10);
  private static final Duration LOAD = Duration.ofSeconds(60);

  @TempDir
  static Path tmp;
  private Vertx vertx;
  private Hoist.Deployment hoist;
  private Chromium chrome;
  private String base;
  private final List<Pattern> excused = new ArrayList<>();

  @RegisterExtension
  final TestWatcher screenshotOnFailure = Chromium.screenshotOnFailure(() -> chrome, "FAILED-token-");

  @BeforeAll
  void start() throws Exception {
    if (!Chromium.installed()) {
      return; // each test then fails on CI, or is skipped loudly elsewhere
    }
    vertx = Vertx.vertx();
    JsonObject config = TestSupport.config(tmp.resolve("data"))
        .put(HoistConfig.API_TOKEN, TOKEN)
        .put(HoistConfig.PROTECT_READS, true)
        // demo-tiny (16 MiB) then takes about four seconds: long enough to watch the bar move even
        // when the machine is busy and each look through WebDriver is slow.
        .put(HoistConfig.DOWNLOAD_MAX_BYTES_PER_SECOND, 4_000_000)
        .put(HoistConfig.PROGRESS_CLEANUP_INTERVAL, 3600);
    hoist = await(Hoist.deploy(vertx, config));
    base = "http://127.0.0.1:" + hoist.httpPort() + "/";
    chrome = new Chromium();
  }

  @AfterAll
  void stop() throws Exception {
    try {
      if (chrome != null) {
        chrome.close();
      }
    } finally {
      if (vertx != null) {
        await(vertx.close());
      }
    }
  }

  @BeforeEach
  void requireChromium() {
    Chromium.requireInstalled();
  }

  @AfterEach
  void theConsoleStayedCleanAndNeverShowedAToken() {
    if (chrome == null) {
      return;
    }
    // The browser reports each refusal the page meets on purpose: an API answer of 401, and a
    // WebSocket handshake without a token (the URL without access_token; one with it must not fail).
    excused.add(Pattern.compile("the server responded with a status of 401"));
    excused.add(Pattern.compile("WebSocket connection to 'ws://127\\.0\\.0\\.1:" + hoist.httpPort() + "/api/llm/ws' failed"));
    List<String> problems = chrome.consoleProblems(excused.toArray(Pattern[]::new));
    excused.clear();
    assertThat(problems).as("warnings and errors in the browser console").isEmpty();
    assertThat(chrome.consoleSeen()).as("every console line, of any level").noneMatch(l -> l.contains(TOKEN) || l.contains(WRONG));
  }

  @Test
  @Order(1)
  void theServerReallyWantsTheToken() throws Exception {
    HttpClient http = HttpClient.newHttpClient();
    HttpResponse<String> refused = http.send(HttpRequest.newBuilder(URI.create(base + "api/llm/progress")).build(),
        HttpResponse.BodyHandlers.ofString());
    assertThat(refused.statusCode()).isEqualTo(401);
    HttpResponse<String> page = http.send(HttpRequest.newBuilder(URI.create(base)).build(), HttpResponse.BodyHandlers.ofString());
    assertThat(page.statusCode()).as("the page itself carries no data and loads without the token").isEqualTo(200);
    assertThat(page.headers().firstValue("Content-Security-Policy")).hasValueSatisfying(csp ->
        assertThat(csp).contains("default-src 'self'").doesNotContain("unsafe"));
  }

  @Test
  @Order(2)
  void theDashboardAsksForTheTokenRefusesAWrongOneAndFollowsALoadLiveWithTheRightOne() throws Exception {
    chrome.driver.get(base);
    WebElement dialog = chrome.waitFor(QUICK, "the token dialog opens", d -> tokenDialogOpen() ? chrome.byId("token-dialog") : null);
    assertThat(dialog.getTagName()).isEqualTo("dialog");
    assertThat((Boolean) chrome.js("return arguments[0].matches(':modal');", dialog)).as("modal: the page behind is inert").isTrue();
    assertThat(chrome.byId("token-title").getText()).isEqualTo("API token needed");
    assertThat(dialog.getDomAttribute("aria-labelledby")).isEqualTo("token-title");
    assertThat(chrome.byId("token-why").getText()).contains("API token").contains("HOIST_API_TOKEN");
    WebElement input = chrome.byId("token-input");
    assertThat(input.getDomAttribute("type")).isEqualTo("password");
    assertThat(chrome.driver.findElement(By.cssSelector("label[for=token-input]")).getText()).isEqualTo("API token");
    assertThat(chrome.js("return document.activeElement.id")).as("focus is in the field").isEqualTo("token-input");
    assertThat(chrome.byId("token-cancel").getText()).isEqualTo("Cancel");
    assertThat(chrome.byId("token-save").getText()).isEqualTo("Save");
    assertThat(chrome.byId("token-error").getText()).isEmpty();
    assertThat(chrome.byId("connection-status").getDomAttribute("data-state")).isNotEqualTo("live");
    chrome.screenshot("token-01-dialog");

    input.sendKeys(WRONG);
    chrome.byId("token-save").click();
    chrome.waitFor(QUICK, "the wrong token is refused", d -> chrome.byId("token-error").getText().contains("Token refused"));
    assertThat(tokenDialogOpen()).isTrue();
    assertThat(input.getDomAttribute("aria-invalid")).isEqualTo("true");
    assertThat(input.getDomProperty("value")).as("the refused token is cleared").isEmpty();
    assertThat(sessionToken()).as("a refused token is not kept").isNull();
    chrome.screenshot("token-02-refused");

    input.sendKeys(TOKEN);
    input.sendKeys(org.openqa.selenium.Keys.ENTER);
    chrome.waitFor(QUICK, "the right token closes the dialog", d -> !tokenDialogOpen());
    assertThat(sessionToken()).isEqualTo(TOKEN);
    assertThat(chrome.js("return Object.keys(localStorage).filter((k) => localStorage.getItem(k).includes(arguments[0]))", TOKEN))
        .as("never in localStorage").asList().isEmpty();
    assertThat(chrome.driver.getCurrentUrl()).doesNotContain(TOKEN).doesNotContain("access_token");
    chrome.waitFor(QUICK, "the catalog is read with the token",
        d -> !d.findElements(By.cssSelector("#model-select option[value='demo-tiny']")).isEmpty());
    chrome.waitFor(QUICK, "the WebSocket connects with the token", d -> "live".equals(connectionState()));
    WebElement tokenButton = chrome.byId("token-button");
    assertThat(tokenButton.isDisplayed()).isTrue();
    assertThat(tokenButton.getText()).isEqualTo("Forget API token");
    chrome.screenshot("token-03-accepted-live");

    new Select(chrome.byId("model-select")).selectByValue("demo-tiny");
    chrome.byId("load-button").click();
    chrome.waitFor(QUICK, "the progress modal opens", d -> chrome.byId("progress-modal").getDomAttribute("open") != null);
    assertThat(tokenDialogOpen()).as("the load needed no second question").isFalse();
    List<Integer> seen = new ArrayList<>();
    long end = System.nanoTime() + LOAD.toNanos();
    while (System.nanoTime() < end && !"completed".equals(chrome.byId("progress-modal").getDomAttribute("data-status"))) {
      assertThat(connectionState()).as("updates come over the WebSocket throughout").isEqualTo("live");
      int p = Integer.parseInt(chrome.byId("modal-progressbar").getDomAttribute("aria-valuenow"));
      if (seen.isEmpty() || seen.get(seen.size() - 1) != p) {
        seen.add(p);
      }
      Thread.sleep(50);
    }
    assertThat(chrome.byId("progress-modal").getDomAttribute("data-status")).isEqualTo("completed");
    assertThat(chrome.byId("modal-progressbar").getDomAttribute("aria-valuenow")).isEqualTo("100");
    assertThat(seen).as("the bar moved live").isSorted().hasSizeGreaterThanOrEqualTo(3);
    assertThat(chrome.byId("modal-transport").isDisplayed()).as("no polling fallback").isFalse();
    assertThat(connectionState()).isEqualTo("live");
    chrome.screenshot("token-04-load-completed");
    chrome.byId("btn-done").click();
    chrome.waitFor(QUICK, "Done closes the modal", d -> chrome.byId("progress-modal").getDomAttribute("open") == null);

    // CSP intact: the policy is the strict one and nothing was refused under it (no console error).
    String policy = chrome.driver.findElement(By.cssSelector("meta[http-equiv=Content-Security-Policy]")).getDomAttribute("content");
    assertThat(policy).contains("default-src 'self'").contains("connect-src 'self'").doesNotContain("unsafe");
  }

  @Test
  @Order(3)
  void forgettingTheTokenAsksAgainAndCancelLeavesAWayBack() throws Exception {
    chrome.driver.navigate().refresh();
    chrome.waitFor(QUICK, "a reload keeps the tab's token: live at once", d -> "live".equals(connectionState()));
    assertThat(tokenDialogOpen()).isFalse();

    chrome.byId("token-button").click();
    assertThat(sessionToken()).isNull();
    chrome.waitFor(QUICK, "without it the dialog comes back", d -> tokenDialogOpen());
    assertThat(chrome.byId("token-error").getText()).isEmpty();
    chrome.byId("token-cancel").click();
    chrome.waitFor(QUICK, "Cancel closes it", d -> !tokenDialogOpen());
    chrome.waitFor(QUICK, "the page says a token is needed", d -> "locked".equals(connectionState()));
    assertThat(chrome.byId("connection-status").getText()).isEqualTo("Token needed");
    WebElement enter = chrome.byId("token-button");
    assertThat(enter.getText()).isEqualTo("Enter API token");
    chrome.screenshot("token-05-cancelled");
    Thread.sleep(1500);
    assertThat(tokenDialogOpen()).as("background reads do not ask again after Cancel").isFalse();

    enter.click();
    chrome.waitFor(QUICK, "Enter API token asks", d -> tokenDialogOpen());
    chrome.byId("token-input").sendKeys(TOKEN);
    chrome.byId("token-save").click();
    chrome.waitFor(QUICK, "accepted", d -> !tokenDialogOpen());
    chrome.waitFor(QUICK, "live again", d -> "live".equals(connectionState()));
    assertThat(sessionToken()).isEqualTo(TOKEN);
  }

  // ------------------------------------------------------------------ helpers

  private boolean tokenDialogOpen() {
    return chrome.byId("token-dialog").getDomAttribute("open") != null && chrome.byId("token-input").isDisplayed();
  }

  private String connectionState() {
    return chrome.byId("connection-status").getDomAttribute("data-state");
  }

  private String sessionToken() {
    return (String) chrome.js("return sessionStorage.getItem('hoist.apiToken');");
  }
}
