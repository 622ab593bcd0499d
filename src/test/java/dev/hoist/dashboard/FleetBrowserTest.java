package dev.hoist.dashboard;

import static dev.hoist.support.TestSupport.await;
import static dev.hoist.support.TestSupport.waitUntil;
import static org.assertj.core.api.Assertions.assertThat;

import dev.hoist.Hoist;
import dev.hoist.HoistConfig;
import dev.hoist.support.TestFleet;
import dev.hoist.support.TestSupport;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
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
import org.openqa.selenium.By;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.support.ui.Select;

/**
 * The dashboard's fleet view in a real browser: two Hoist nodes, "a" and "b", clustered in this JVM
 * on 127.0.0.1 (a unique cluster name, free ports), downloads throttled so a load visibly runs. The
 * page is node a's; it lists both nodes in the Fleet panel, sends a load to b through the picker's
 * "Where" field and follows it live to green with b named, then loads on all nodes and shows the
 * parent with one row per child, each opening its child; last, b stops and shows as lost. The
 * console must stay clean.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class FleetBrowserTest {

  private static final Duration QUICK = Duration.ofSeconds(10);
  private static final Duration LOAD = Duration.ofSeconds(45);

  private Path dirA;
  private Path dirB;
  private Vertx vertxA;
  private Vertx vertxB;
  private int portA;
  private Chromium chrome;
  private String base;
  private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
  private long testStart;

  @RegisterExtension
  final TestWatcher screenshotOnFailure = Chromium.screenshotOnFailure(() -> chrome, "FAILED-fleet-");

  @BeforeAll
  void startFleet() throws Exception {
    if (!Chromium.installed()) {
      return; // each test then fails on CI, or is skipped loudly elsewhere (see markStart)
    }
    long t0 = System.nanoTime();
    dirA = Files.createTempDirectory("hoist-ui-node-a");
    dirB = Files.createTempDirectory("hoist-ui-node-b");
    TestFleet fleet = new TestFleet(2);
    // demo-tiny (17 MB) takes a few seconds, so the page sees it run.
    JsonObject configA = fleet.nodeConfig(0, "a", dirA).put(HoistConfig.DOWNLOAD_MAX_BYTES_PER_SECOND, 6_000_000);
    JsonObject configB = fleet.nodeConfig(1, "b", dirB).put(HoistConfig.DOWNLOAD_MAX_BYTES_PER_SECOND, 6_000_000);
    vertxA = await(Hoist.newClusteredVertx(new HoistConfig(configA)));
    portA = await(Hoist.deploy(vertxA, configA)).httpPort();
    vertxB = await(Hoist.newClusteredVertx(new HoistConfig(configB)));
    await(Hoist.deploy(vertxB, configB));
    waitUntil(Duration.ofSeconds(40), () -> upNodes(portA) == 2);
    base = "http://127.0.0.1:" + portA + "/";
    chrome = new Chromium();
    System.out.printf("FleetBrowserTest: fleet of 2 up in %.1f s%n", (System.nanoTime() - t0) / 1e9);
  }

  @AfterAll
  void stopFleet() throws Exception {
    try {
      if (chrome != null) {
        chrome.close();
      }
    } finally {
      for (Vertx v : new Vertx[] {vertxB, vertxA}) {
        if (v != null) {
          try {
            v.close().toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
          } catch (Exception e) {
            // closing anyway
          }
        }
      }
      for (Path dir : new Path[] {dirA, dirB}) {
        if (dir != null) {
          TestSupport.deleteRecursively(dir);
        }
      }
    }
  }

  @BeforeEach
  void markStart() {
    Chromium.requireInstalled();
    testStart = System.nanoTime();
  }

  @AfterEach
  void theConsoleStayedClean(org.junit.jupiter.api.TestInfo info) {
    if (chrome == null) {
      return;
    }
    System.out.printf("%s: %.1f s%n", info.getDisplayName(), (System.nanoTime() - testStart) / 1e9);
    assertThat(chrome.consoleProblems()).as("warnings and errors in the browser console").isEmpty();
  }

  // ------------------------------------------------------------------ the tests

  @Test
  @Order(1)
  void theFleetPanelListsBothNodesAndMarksTheOneAnswering() throws Exception {
    chrome.driver.get(base);
    chrome.waitFor(QUICK, "the page connects live", d -> "live".equals(chrome.byId("connection-status").getDomAttribute("data-state")));
    chrome.waitFor(QUICK, "the Fleet panel lists both nodes", d -> nodeCards().size() == 2);
    assertThat(nodeCards().stream().map(c -> c.getDomAttribute("data-node"))).containsExactly("a", "b");
    WebElement a = nodeCard("a");
    WebElement b = nodeCard("b");
    assertThat(a.getDomAttribute("data-self")).isEqualTo("true");
    assertThat(a.getText()).contains("this node");
    assertThat(b.getDomAttribute("data-self")).isNull();
    for (WebElement card : List.of(a, b)) {
      assertThat(card.getDomAttribute("data-node-status")).isEqualTo("up");
      assertThat(card.findElement(By.cssSelector("[data-testid=fleet-node-status]")).getText()).isEqualTo("Up");
      assertThat(card.findElement(By.cssSelector("[data-testid=fleet-node-resources]")).getText())
          .contains("memory available").contains("free for models").contains("disk free");
    }
    assertThat(chrome.byId("fleet-count").getText()).isEqualTo("2 nodes, all up");
    assertThat(chrome.byId("fleet-nodes").getDomAttribute("aria-labelledby")).isEqualTo("fleet-title");
    assertThat(chrome.byId("fleet-compact").isDisplayed()).isFalse();

    // Two nodes up: the picker offers where to load.
    chrome.waitFor(QUICK, "the Where field shows", d -> chrome.byId("node-field").isDisplayed());
    Select where = new Select(chrome.byId("node-select"));
    assertThat(where.getOptions().stream().map(o -> o.getDomAttribute("value"))).containsExactly("", "a", "b", "*all");
    assertThat(where.getFirstSelectedOption().getText()).isEqualTo("Best node (most memory free)");
    assertThat(chrome.driver.findElement(By.cssSelector("label[for=node-select]")).getText()).isEqualTo("Where");
    chrome.fullPageScreenshot("fleet-01-two-nodes");
  }

  @Test
  @Order(2)
  void aLoadAimedAtBThroughThePickerRunsThereAndIsFollowedLive() throws Exception {
    chrome.waitFor(QUICK, "the catalog is read", d -> !d.findElements(By.cssSelector("#model-select option[value='demo-tiny']")).isEmpty());
    new Select(chrome.byId("model-select")).selectByValue("demo-tiny");
    new Select(chrome.byId("node-select")).selectByValue("b");
    assertThat(chrome.byId("load-target").getText()).isEqualTo("Will load demo-tiny on b");
    chrome.byId("load-button").click();
    chrome.waitFor(QUICK, "the progress modal opens", d -> modalOpen());
    chrome.waitFor(QUICK, "the modal names node b", d -> "on b".equals(chrome.byId("modal-node").getText()));

    // Live: seen running (in the modal, and under b in the Fleet panel behind it), then completed.
    List<String> statuses = new ArrayList<>();
    boolean seenUnderB = false;
    long end = System.nanoTime() + LOAD.toNanos();
    while (System.nanoTime() < end) {
      String s = modalStatus();
      if (statuses.isEmpty() || !statuses.get(statuses.size() - 1).equals(s)) {
        statuses.add(s);
      }
      seenUnderB |= !nodeCard("b").findElements(By.cssSelector("[data-testid=fleet-node-op]")).isEmpty();
      if ("completed".equals(s) || "error".equals(s)) {
        break;
      }
      Thread.sleep(100);
    }
    assertThat(statuses).as("modal statuses over time").last().isEqualTo("completed");
    assertThat(statuses).as("seen running before it completed").anyMatch(s -> s.matches("initializing|downloading|loading|finalizing"));
    assertThat(seenUnderB).as("the running load showed under node b in the Fleet panel").isTrue();
    assertThat(chrome.byId("modal-children").isDisplayed()).isFalse();
    chrome.screenshot("fleet-02-loaded-on-b");
    chrome.byId("btn-done").click();
    chrome.waitFor(QUICK, "the modal closes", d -> !modalOpen());

    WebElement row = chrome.driver.findElement(By.cssSelector("#operations > li[data-node='b']"));
    assertThat(row.findElement(By.cssSelector("[data-testid=operation-node]")).getText()).isEqualTo("on b");
    assertThat(row.findElement(By.cssSelector("[data-testid=operation-status]")).getText()).isEqualTo("Completed");
    // The heartbeat tells the fleet b holds it; the panel asks again every few seconds.
    chrome.waitFor(QUICK, "node b lists demo-tiny in memory",
        d -> nodeCard("b").findElement(By.cssSelector("[data-testid=fleet-node-loaded]")).getText().contains("hoist/demo-tiny"));
    assertThat(nodeCard("a").findElement(By.cssSelector("[data-testid=fleet-node-loaded]")).getText()).isEqualTo("none");
    assertThat(nodeCard("b").findElements(By.cssSelector("[data-testid=fleet-node-op]"))).isEmpty();
    chrome.fullPageScreenshot("fleet-03-b-holds-demo-tiny");
  }

  @Test
  @Order(3)
  void aLoadOnAllNodesShowsTheParentWithARowPerChildThatOpensIt() throws Exception {
    new Select(chrome.byId("model-select")).selectByValue("demo-tiny");
    new Select(chrome.byId("node-select")).selectByValue("*all");
    assertThat(chrome.byId("load-target").getText()).isEqualTo("Will load demo-tiny on all nodes");
    chrome.byId("load-button").click();
    chrome.waitFor(QUICK, "the progress modal opens", d -> modalOpen());
    chrome.waitFor(QUICK, "the parent lists a row per node",
        d -> childRows().stream().map(r -> r.getDomAttribute("data-node")).toList().equals(List.of("a", "b")));
    assertThat(chrome.byId("modal-node").getText()).isEqualTo("on 2 nodes");
    chrome.screenshot("fleet-04-all-nodes-running");
    chrome.waitFor(LOAD, "the parent completes", d -> "completed".equals(modalStatus()));
    chrome.waitFor(QUICK, "every child row is green", d -> childRows().stream()
        .allMatch(r -> "Completed".equals(r.findElement(By.cssSelector("[data-testid=modal-child-status]")).getText())));
    for (WebElement r : childRows()) {
      assertThat(r.findElement(By.cssSelector("[role=progressbar]")).getDomAttribute("aria-valuenow")).isEqualTo("100");
    }
    chrome.screenshot("fleet-05-all-nodes-completed");

    // A child's row opens the child; the child leads back to the parent.
    WebElement childA = childRows().stream().filter(r -> "a".equals(r.getDomAttribute("data-node"))).findFirst().orElseThrow();
    String childAId = childA.getDomAttribute("data-operation-id");
    childA.findElement(By.cssSelector("[data-testid=modal-child-open]")).click();
    chrome.waitFor(QUICK, "the modal shows the child on a", d -> "on a".equals(chrome.byId("modal-node").getText())
        && chrome.byId("modal-parent").isDisplayed());
    assertThat(chrome.byId("modal-children").isDisplayed()).isFalse();
    assertThat(modalStatus()).isEqualTo("completed");
    assertThat(chrome.driver.switchTo().activeElement().getDomAttribute("id")).isEqualTo("modal-title");
    chrome.byId("modal-parent-open").click();
    chrome.waitFor(QUICK, "back on the parent", d -> chrome.byId("modal-children").isDisplayed() && childRows().size() == 2);
    assertThat(childRows().stream().map(r -> r.getDomAttribute("data-operation-id"))).contains(childAId);

    // Narrow and dark: the modal and the panel still fit.
    chrome.viewport(390, 844);
    try {
      chrome.screenshot("fleet-06-all-nodes-narrow");
      chrome.byId("btn-done").click();
      chrome.waitFor(QUICK, "the modal closes", d -> !modalOpen());
      assertNoHorizontalScroll("narrow, with the Fleet panel");
      chrome.colorScheme("dark");
      chrome.fullPageScreenshot("fleet-07-narrow-dark");
      WebElement pill = nodeCard("b").findElement(By.cssSelector("[data-testid=fleet-node-status]"));
      assertThat(chrome.computed(pill, "color")).as("the up pill's dark-theme green").isEqualTo("rgb(134, 239, 172)");
      assertNoHorizontalScroll("narrow and dark");
    } finally {
      chrome.colorScheme(null);
      chrome.resetViewport();
    }
    // The list names every node's operation; the parent spans both.
    List<String> tags = chrome.driver.findElements(By.cssSelector("#operations [data-testid=operation-node]")).stream()
        .map(WebElement::getText).toList();
    assertThat(tags).contains("on 2 nodes", "on a", "on b");
  }

  @Test
  @Order(4)
  void aNodeThatStopsShowsAsLostWithWhenItWasLastSeen() throws Exception {
    Vertx b = vertxB;
    vertxB = null;
    b.close().toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
    chrome.waitFor(Duration.ofSeconds(20), "node b shows as lost", d -> "lost".equals(nodeCard("b").getDomAttribute("data-node-status")));
    WebElement card = nodeCard("b");
    assertThat(card.findElement(By.cssSelector("[data-testid=fleet-node-status]")).getText()).isEqualTo("Lost");
    assertThat(card.findElement(By.cssSelector("[data-testid=fleet-node-seen]")).getText()).matches("Lost: last seen \\d\\d:\\d\\d:\\d\\d, .* ago\\..*");
    assertThat(chrome.computed(card, "border-top-color")).as("a lost node's red frame").isEqualTo("rgb(220, 38, 38)");
    assertThat(chrome.byId("fleet-count").getText()).isEqualTo("2 nodes, 1 lost");
    assertThat(nodeCard("a").getDomAttribute("data-node-status")).isEqualTo("up");
    // Only a is left to load on: no choice to make.
    chrome.waitFor(QUICK, "the Where field hides", d -> !chrome.byId("node-field").isDisplayed());
    assertThat(chrome.byId("load-target").getText()).isEqualTo("Will load demo-tiny");
    chrome.fullPageScreenshot("fleet-08-b-lost");
  }

  // ------------------------------------------------------------------ helpers

  private List<WebElement> nodeCards() {
    return chrome.driver.findElements(By.cssSelector("#fleet-nodes > [data-testid=fleet-node]"));
  }

  private WebElement nodeCard(String name) {
    return chrome.driver.findElement(By.cssSelector("#fleet-nodes > [data-node='" + name + "']"));
  }

  private List<WebElement> childRows() {
    return chrome.driver.findElements(By.cssSelector("#children-list > [data-testid=modal-child]"));
  }

  private boolean modalOpen() {
    return chrome.byId("progress-modal").getDomAttribute("open") != null && chrome.byId("modal-title").isDisplayed();
  }

  private String modalStatus() {
    return chrome.byId("progress-modal").getDomAttribute("data-status");
  }

  private void assertNoHorizontalScroll(String what) {
    Number scroll = (Number) chrome.js("return document.documentElement.scrollWidth;");
    Number width = (Number) chrome.js("return document.documentElement.clientWidth;");
    assertThat(scroll.intValue()).as("%s: page width %s in a %s px viewport", what, scroll, width).isLessThanOrEqualTo(width.intValue());
  }

  private int upNodes(int port) {
    try {
      HttpResponse<String> res = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/api/llm/nodes"))
          .timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString());
      if (res.statusCode() != 200) {
        return 0;
      }
      return (int) new JsonObject(res.body()).getJsonArray("nodes").stream()
          .filter(o -> "up".equals(((JsonObject) o).getString("status"))).count();
    } catch (Exception e) {
      return 0;
    }
  }
}
