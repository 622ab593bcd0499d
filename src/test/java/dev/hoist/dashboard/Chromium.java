package dev.hoist.dashboard;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.logging.Level;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.Assumptions;
import org.openqa.selenium.By;
import org.openqa.selenium.JavascriptExecutor;
import org.openqa.selenium.WebDriver;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.chrome.ChromeDriverService;
import org.openqa.selenium.chrome.ChromeOptions;
import org.openqa.selenium.logging.LogEntry;
import org.openqa.selenium.logging.LogType;
import org.openqa.selenium.logging.LoggingPreferences;
import org.openqa.selenium.support.ui.WebDriverWait;

/**
 * Debian's headless Chromium driven by Debian's chromedriver through Selenium: nothing is downloaded
 * (both paths are given, so Selenium Manager never runs). Also: screenshots under
 * {@code target/screenshots/}, the browser console, and a few DevTools commands (colour scheme,
 * viewport) sent through chromedriver.
 */
final class Chromium implements AutoCloseable {

  static final Path BINARY = Paths.get(System.getProperty("hoist.chromium", "/usr/bin/chromium"));
  static final Path DRIVER = Paths.get(System.getProperty("hoist.chromedriver", "/usr/bin/chromedriver"));
  static final Path SCREENSHOTS = Paths.get("target", "screenshots").toAbsolutePath();

  /** The flags this machine needs (see the toolchain notes), plus a fixed size and scale for stable screenshots. */
  private static final List<String> FLAGS = List.of("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
      "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
      "--window-size=1280,900", "--force-device-scale-factor=1", "--hide-scrollbars", "--lang=en-US");

  /**
   * Selenium looks for a DevTools binding of this Chromium's version (it ships none for 156) and
   * warns; the DevTools commands here go through chromedriver's own endpoint and need none.
   */
  private static final java.util.logging.Logger CDP_FINDER = java.util.logging.Logger.getLogger("org.openqa.selenium.devtools.CdpVersionFinder");

  static {
    CDP_FINDER.setLevel(Level.SEVERE);
  }

  final ChromeDriver driver;
  private final Path profile;
  private final List<String> consoleSeen = new ArrayList<>();

  /**
   * Fails when Chromium or chromedriver is missing on CI (CI installs them in .ci/run); on a developer's
   * machine without them the browser tests are skipped with a loud message instead, so `mvn test` stays usable.
   */
  private static final java.util.concurrent.atomic.AtomicBoolean BANNER_SHOWN = new java.util.concurrent.atomic.AtomicBoolean();

  /** For {@code @RegisterExtension}: a screenshot named {@code prefix + test method} when a test fails. */
  static org.junit.jupiter.api.extension.TestWatcher screenshotOnFailure(java.util.function.Supplier<Chromium> chrome, String prefix) {
    return new org.junit.jupiter.api.extension.TestWatcher() {
      @Override
      public void testFailed(org.junit.jupiter.api.extension.ExtensionContext context, Throwable cause) {
        Chromium browser = chrome.get();
        if (browser != null) {
          try {
            browser.screenshot(prefix + context.getRequiredTestMethod().getName());
          } catch (Exception | AssertionError ignored) {
            // the failure itself is what matters
          }
        }
      }
    };
  }

  static boolean installed() {
    return Files.isExecutable(BINARY) && Files.isExecutable(DRIVER);
  }

  static void requireInstalled() {
    boolean browser = Files.isExecutable(BINARY);
    boolean driver = Files.isExecutable(DRIVER);
    if (browser && driver) {
      return;
    }
    String missing = (browser ? "" : BINARY + " ") + (driver ? "" : DRIVER + " ");
    String message = "The dashboard's browser tests need Debian's Chromium and chromedriver, and " + missing.trim()
        + " is missing. Install them with: apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium chromium-driver"
        + " (.ci/run does this before mvn -B test).";
    String ci = System.getenv("CI");
    if (ci != null && !ci.isBlank() && !ci.equalsIgnoreCase("false")) {
      Assertions.fail("CI=" + ci + ": " + message);
    }
    String banner = "\n" + "!".repeat(100) + "\n!!! BROWSER TESTS SKIPPED (CI is not set): " + message + "\n" + "!".repeat(100) + "\n";
    System.out.println(banner); // into the surefire report
    if (BANNER_SHOWN.getAndSet(true)) {
      Assumptions.abort("BROWSER TESTS SKIPPED (CI is not set): " + message);
    }
    try {
      // and onto the console past surefire's redirection, where a developer sees it
      java.io.PrintStream console = new java.io.PrintStream(new java.io.FileOutputStream(java.io.FileDescriptor.err), true);
      console.println(banner);
    } catch (RuntimeException ignored) {
      // the report has it
    }
    Assumptions.abort("BROWSER TESTS SKIPPED (CI is not set): " + message);
  }

  Chromium() throws IOException {
    profile = Files.createTempDirectory("hoist-chromium-profile-");
    ChromeOptions options = new ChromeOptions();
    options.setBinary(BINARY.toFile());
    options.addArguments(FLAGS);
    options.addArguments("--user-data-dir=" + profile);
    LoggingPreferences logs = new LoggingPreferences();
    logs.enable(LogType.BROWSER, Level.ALL);
    options.setCapability("goog:loggingPrefs", logs);
    Files.createDirectories(SCREENSHOTS);
    ChromeDriverService service = new ChromeDriverService.Builder()
        .usingDriverExecutable(DRIVER.toFile())
        .usingAnyFreePort()
        .withLogFile(SCREENSHOTS.resolveSibling("chromedriver.log").toFile())
        .build();
    driver = new ChromeDriver(service, options);
    driver.manage().timeouts().scriptTimeout(Duration.ofSeconds(10));
  }

  // ------------------------------------------------------------------ waiting and reading

  <T> T waitFor(Duration timeout, String what, Function<WebDriver, T> condition) {
    // A list re-rendered under the test's feet is read again, not a failure.
    return new WebDriverWait(driver, timeout, Duration.ofMillis(50)).withMessage(what)
        .ignoring(org.openqa.selenium.StaleElementReferenceException.class).until(condition);
  }

  WebElement byId(String id) {
    return driver.findElement(By.id(id));
  }

  Object js(String script, Object... args) {
    return ((JavascriptExecutor) driver).executeScript(script, args);
  }

  String computed(WebElement el, String property) {
    return (String) js("return getComputedStyle(arguments[0]).getPropertyValue(arguments[1]).trim();", el, property);
  }

  // ------------------------------------------------------------------ DevTools

  Map<String, Object> cdp(String command, Map<String, Object> params) {
    return driver.executeCdpCommand(command, params);
  }

  void colorScheme(String scheme) {
    cdp("Emulation.setEmulatedMedia", Map.of("features",
        List.of(Map.of("name", "prefers-color-scheme", "value", scheme == null ? "" : scheme))));
  }

  void viewport(int width, int height) {
    cdp("Emulation.setDeviceMetricsOverride", Map.of("width", width, "height", height, "deviceScaleFactor", 1, "mobile", false));
  }

  void resetViewport() {
    cdp("Emulation.clearDeviceMetricsOverride", Map.of());
  }

  // ------------------------------------------------------------------ screenshots

  /** What is on screen now, as {@code target/screenshots/<name>.png}. */
  Path screenshot(String name) throws IOException {
    return save(name, cdp("Page.captureScreenshot", Map.of("format", "png")));
  }

  /** The whole page, also what is scrolled out of view. */
  Path fullPageScreenshot(String name) throws IOException {
    Object size = js("return [document.documentElement.scrollWidth, document.documentElement.scrollHeight];");
    List<?> wh = (List<?>) size;
    long width = ((Number) wh.get(0)).longValue();
    long height = Math.min(((Number) wh.get(1)).longValue(), 6000);
    return save(name, cdp("Page.captureScreenshot", Map.of("format", "png", "captureBeyondViewport", true,
        "clip", Map.of("x", 0, "y", 0, "width", width, "height", height, "scale", 1))));
  }

  private static Path save(String name, Map<String, Object> shot) throws IOException {
    byte[] png = Base64.getDecoder().decode((String) shot.get("data"));
    assertThat(png.length).as("screenshot %s", name).isGreaterThan(1000);
    Path file = SCREENSHOTS.resolve(name + ".png");
    Files.write(file, png);
    return file;
  }

  // ------------------------------------------------------------------ console

  /**
   * Reads the browser console since the last read and returns its warnings and errors, less the
   * lines matching {@code allowed}. Every line is also printed (it lands in the surefire report).
   */
  List<String> consoleProblems(Pattern... allowed) {
    List<String> problems = new ArrayList<>();
    for (LogEntry entry : driver.manage().logs().get(LogType.BROWSER)) {
      String line = entry.getLevel() + " " + entry.getMessage();
      consoleSeen.add(line);
      System.out.println("[browser console] " + line);
      if (entry.getLevel().intValue() < Level.WARNING.intValue()) {
        continue;
      }
      boolean excused = false;
      for (Pattern p : allowed) {
        excused |= p.matcher(entry.getMessage()).find();
      }
      if (!excused) {
        problems.add(line);
      }
    }
    return problems;
  }

  /** Every console line read so far, of any level. */
  List<String> consoleSeen() {
    return List.copyOf(consoleSeen);
  }

  @Override
  public void close() throws IOException {
    try {
      driver.quit();
    } finally {
      dev.hoist.support.TestSupport.deleteRecursively(profile);
    }
  }

  static File screenshotsDir() {
    return SCREENSHOTS.toFile();
  }
}
