package dev.hoist.openapi;

import static dev.hoist.support.TestSupport.await;
import static org.assertj.core.api.Assertions.assertThat;

import dev.hoist.Hoist;
import dev.hoist.HoistConfig;
import dev.hoist.contract.ErrorCode;
import dev.hoist.contract.OperationStatus;
import dev.hoist.embed.HoistModules;
import dev.hoist.support.TestSupport;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.json.Json;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.client.HttpRequest;
import io.vertx.ext.web.client.HttpResponse;
import io.vertx.ext.web.client.WebClient;
import io.vertx.json.schema.Draft;
import io.vertx.json.schema.JsonSchema;
import io.vertx.json.schema.JsonSchemaOptions;
import io.vertx.json.schema.OutputFormat;
import io.vertx.json.schema.OutputUnit;
import io.vertx.json.schema.SchemaRepository;
import io.vertx.openapi.contract.OpenAPIContract;
import io.vertx.openapi.contract.OpenAPIVersion;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code src/main/resources/openapi.json} against the real server: every documented endpoint is
 * called for real, succeeding and failing, and each response's status must be documented for that
 * operation and its body must validate against the documented JSON schema (vertx-json-schema,
 * Draft 2020-12, the dialect of OpenAPI 3.1). And the other way round: every route the gateway
 * defines is in the document, and every documented path is served.
 *
 * <p>Two servers: the whole of Hoist, and a gateway alone (no registry or stages, in its own
 * Vert.x) that protects reads with a token and allows one load a minute — the source of the
 * 401, 429 and 503 answers.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class OpenApiContractTest {

  /** Where the document is registered in the schema repository; its {@code #/...} references resolve against it. */
  private static final String BASE_URI = "app:///";
  private static final String DOC_URI = BASE_URI + "openapi.json";
  private static final String TOKEN = "contract-test-token";
  private static final String NO_SUCH_ID = "00000000-0000-0000-0000-000000000000";
  private static final Path GATEWAY_SOURCES = Paths.get("src/main/java/dev/hoist/gateway");

  @TempDir
  static Path dataDir;
  @TempDir
  static Path bareDataDir;
  private Vertx vertx;
  private Vertx bareVertx;
  private Server hoist;
  private Server bare;
  private JsonObject doc;
  private SchemaRepository schemas;
  /** "METHOD /template" → the statuses seen. */
  private final Map<String, Set<Integer>> exercised = new TreeMap<>();

  /** One server under test. */
  private final class Server {
    final WebClient http;
    final int port;

    Server(Vertx vertx, int port) {
      this.http = WebClient.create(vertx);
      this.port = port;
    }

    /** Sends, checks the status (unless {@code expected} is 0), and validates the answer against the document. */
    HttpResponse<Buffer> call(HttpMethod method, String path, Object body, String token, int expected) {
      HttpRequest<Buffer> request = http.request(method, port, "127.0.0.1", path);
      if (token != null) {
        request.bearerTokenAuthentication(token);
      }
      HttpResponse<Buffer> response = await(body == null ? request.send()
          : body instanceof JsonObject ? request.sendJsonObject((JsonObject) body) : request.sendBuffer(Buffer.buffer(body.toString())));
      if (expected != 0) {
        assertThat(response.statusCode()).as("%s %s: %s", method, path, response.bodyAsString()).isEqualTo(expected);
      }
      validate(method, path, response);
      return response;
    }

    JsonObject json(HttpMethod method, String path, Object body, int expected) {
      return call(method, path, body, null, expected).bodyAsJsonObject();
    }
  }

  @BeforeAll
  void start() throws Exception {
    try (InputStream in = OpenApiContractTest.class.getClassLoader().getResourceAsStream("openapi.json")) {
      assertThat(in).as("openapi.json on the classpath").isNotNull();
      doc = new JsonObject(new String(in.readAllBytes(), StandardCharsets.UTF_8));
    }
    schemas = SchemaRepository.create(new JsonSchemaOptions().setDraft(Draft.DRAFT202012).setBaseUri(BASE_URI));
    schemas.dereference(DOC_URI, JsonSchema.of(doc.copy())); // it annotates what it is given

    vertx = Vertx.vertx();
    JsonObject config = TestSupport.config(dataDir)
        .put(HoistConfig.OFFLINE, true)
        .put(HoistConfig.LOAD_RATE_PER_MINUTE, 10_000);
    hoist = new Server(vertx, await(Hoist.deploy(vertx, config)).httpPort());

    bareVertx = Vertx.vertx();
    JsonObject bareConfig = TestSupport.config(bareDataDir)
        .put(HoistConfig.MIRROR_ENABLED, false)
        .put(HoistConfig.API_TOKEN, TOKEN)
        .put(HoistConfig.PROTECT_READS, true)
        .put(HoistConfig.LOAD_RATE_PER_MINUTE, 1);
    bare = new Server(bareVertx, await(HoistModules.builder(bareConfig).gateway().deploy(bareVertx)).httpPort());
  }

  @AfterAll
  void stop() {
    await(bareVertx.close());
    await(vertx.close());
  }

  // ------------------------------------------------------------------ the document itself

  @Test
  @Order(1)
  void isAValidOpenApi31DocumentWithAnOperationIdForEveryOperation() {
    OpenAPIContract contract = await(OpenAPIContract.from(vertx, doc.copy())); // it annotates what it is given
    assertThat(contract.getVersion()).isEqualTo(OpenAPIVersion.V3_1);
    for (String[] op : documentedOperations()) {
      assertThat(operation(op[1], op[0]).getString("operationId")).as("operationId of %s %s", op[0], op[1]).isNotBlank();
    }
  }

  @Test
  @Order(1)
  void itsEnumsAreTheContractsErrorCodesAndStatuses() {
    JsonObject components = doc.getJsonObject("components").getJsonObject("schemas");
    assertThat(strings(components.getJsonObject("ErrorCode").getJsonArray("enum")))
        .containsExactlyInAnyOrderElementsOf(Arrays.stream(ErrorCode.values()).map(ErrorCode::wireName).toList());
    assertThat(strings(components.getJsonObject("OperationStatus").getJsonArray("enum")))
        .containsExactlyInAnyOrderElementsOf(Arrays.stream(OperationStatus.values()).map(OperationStatus::wireName).toList());
  }

  @Test
  @Order(1)
  void everyRouteTheGatewayDefinesIsDocumented() throws Exception {
    // A Vert.x Router cannot list its routes, so the route table is read from the gateway's source.
    assertThat(GATEWAY_SOURCES).as("run from the project directory").isDirectory();
    Pattern declaration = Pattern.compile("router\\.(get|post|put|delete|patch)\\(\"([^\"]+)\"\\)");
    List<String> routes = new ArrayList<>();
    try (var files = Files.list(GATEWAY_SOURCES)) {
      for (Path file : files.filter(f -> f.toString().endsWith(".java")).toList()) {
        Matcher m = declaration.matcher(Files.readString(file));
        while (m.find()) {
          routes.add(m.group(1) + " " + m.group(2).replaceAll(":([A-Za-z_]+)", "{$1}"));
        }
      }
    }
    assertThat(routes).as("routes found in %s", GATEWAY_SOURCES).contains("post /api/llm/load", "get /health");
    List<String> documented = documentedOperations().stream().map(op -> op[0] + " " + op[1]).toList();
    assertThat(documented).containsAll(routes);
    assertThat(doc.getJsonObject("x-websocket").getString("path")).isEqualTo("/api/llm/ws");
  }

  @Test
  @Order(2)
  void everyDocumentedPathIsServed() {
    for (String[] op : documentedOperations()) {
      HttpMethod method = HttpMethod.valueOf(op[0].toUpperCase(Locale.ROOT));
      String path = sample(op[1]);
      HttpResponse<Buffer> response = hoist.call(method, path, method == HttpMethod.POST ? new JsonObject() : null, null, 0);
      String message = response.statusCode() == 404 ? response.bodyAsJsonObject().getJsonObject("error").getString("message") : "";
      assertThat(message).as("%s %s", method, path).doesNotStartWith("no such endpoint");
    }
  }

  // ------------------------------------------------------------------ every endpoint, for real

  @Test
  @Order(3)
  void loadProgressCancelRetryAndDelete() throws Exception {
    HttpResponse<Buffer> started = hoist.call(HttpMethod.POST, "/api/llm/load", new JsonObject().put("model_name", "demo-tiny"), null, 202);
    String tiny = started.bodyAsJsonObject().getString("operation_id");
    assertThat(started.getHeader("Location")).isEqualTo("/api/llm/progress/" + tiny);
    waitFor(tiny, "completed");

    hoist.call(HttpMethod.POST, "/api/llm/load", new JsonObject().put("model_name", "no-such-model"), null, 404);
    hoist.call(HttpMethod.POST, "/api/llm/load", new JsonObject(), null, 400);
    hoist.call(HttpMethod.POST, "/api/llm/load", "model_name=demo-tiny", null, 415);
    hoist.call(HttpMethod.POST, "/api/llm/load", new JsonObject().put("model_name", "x".repeat(70 * 1024)), null, 413);
    assertThat(hoist.json(HttpMethod.GET, "/api/llm/progress", null, 200).getJsonArray("operations")).isNotEmpty();
    hoist.call(HttpMethod.GET, "/api/llm/progress/" + NO_SUCH_ID, null, null, 404);

    // Slow enough to still be running while it is cancelled, retried and cancelled again.
    String sharded = hoist.json(HttpMethod.POST, "/api/llm/load",
        new JsonObject().put("model_name", "demo-sharded").put("max_bytes_per_second", 1_000_000).put("priority", 10), 202)
        .getString("operation_id");
    hoist.call(HttpMethod.DELETE, "/api/llm/progress/" + sharded, null, null, 409);
    assertThat(hoist.json(HttpMethod.POST, "/api/llm/progress/" + sharded + "/cancel", null, 200).getString("status")).isEqualTo("cancelled");
    hoist.call(HttpMethod.POST, "/api/llm/progress/" + sharded + "/cancel", null, null, 409);
    hoist.call(HttpMethod.POST, "/api/llm/progress/" + NO_SUCH_ID + "/cancel", null, null, 404);
    assertThat(hoist.json(HttpMethod.POST, "/api/llm/progress/" + sharded + "/retry", null, 202).getInteger("attempt")).isEqualTo(2);
    hoist.call(HttpMethod.POST, "/api/llm/progress/" + tiny + "/retry", null, null, 409);
    hoist.call(HttpMethod.POST, "/api/llm/progress/" + NO_SUCH_ID + "/retry", null, null, 404);
    hoist.call(HttpMethod.POST, "/api/llm/progress/" + sharded + "/cancel", null, null, 200);
    hoist.call(HttpMethod.DELETE, "/api/llm/progress/" + sharded, null, null, 204);
    hoist.call(HttpMethod.DELETE, "/api/llm/progress/" + sharded, null, null, 404);
  }

  @Test
  @Order(3)
  void historyStatsModelsAndUnload() throws Exception {
    String id = hoist.json(HttpMethod.POST, "/api/llm/load", new JsonObject().put("model_name", "demo-gguf"), 202).getString("operation_id");
    waitFor(id, "completed");
    hoist.call(HttpMethod.GET, "/api/llm/history", null, null, 200);
    JsonArray history = hoist.json(HttpMethod.GET, "/api/llm/history?model=demo-gguf&status=completed&limit=5", null, 200).getJsonArray("operations");
    assertThat(history).isNotEmpty();
    hoist.call(HttpMethod.GET, "/api/llm/history?status=sleeping", null, null, 400);
    assertThat(hoist.json(HttpMethod.GET, "/api/llm/stats", null, 200).getJsonArray("models")).isNotEmpty();
    assertThat(hoist.json(HttpMethod.GET, "/api/llm/models", null, 200).getJsonArray("models")).isNotEmpty();
    hoist.call(HttpMethod.POST, "/api/llm/models/demo-gguf/touch", null, null, 200);
    hoist.call(HttpMethod.POST, "/api/llm/models/demo-gguf/unload", null, null, 200);
    hoist.call(HttpMethod.POST, "/api/llm/models/demo-gguf/unload", null, null, 404);
    hoist.call(HttpMethod.POST, "/api/llm/models/demo-gguf/touch", null, null, 404);
    hoist.call(HttpMethod.POST, "/api/llm/models/no-such-model/unload", null, null, 404);
  }

  @Test
  @Order(3)
  void schedules() {
    if (!doc.getJsonObject("paths").containsKey("/api/llm/schedules")) {
      return;
    }
    hoist.call(HttpMethod.GET, "/api/llm/schedules", null, null, 200);
    String id = hoist.json(HttpMethod.POST, "/api/llm/schedules",
        new JsonObject().put("cron", "0 3 * * *").put("action", "refresh").put("model_name", "demo-tiny"), 201).getString("id");
    hoist.call(HttpMethod.POST, "/api/llm/schedules", new JsonObject().put("cron", "every day").put("model_name", "demo-tiny"), null, 400);
    hoist.call(HttpMethod.POST, "/api/llm/schedules", new JsonObject().put("cron", "0 3 * * *").put("model_name", "no-such-model"), null, 404);
    hoist.call(HttpMethod.DELETE, "/api/llm/schedules/" + id, null, null, 204);
    hoist.call(HttpMethod.DELETE, "/api/llm/schedules/" + id, null, null, 404);
  }

  @Test
  @Order(3)
  void healthReadinessMetricsAndThisDocument() {
    hoist.call(HttpMethod.GET, "/health", null, null, 200);
    hoist.call(HttpMethod.GET, "/ready", null, null, 200);
    assertThat(hoist.call(HttpMethod.GET, "/metrics", null, null, 200).bodyAsString()).contains("# TYPE");
    assertThat(hoist.json(HttpMethod.GET, "/openapi.json", null, 200)).isEqualTo(doc);
  }

  @Test
  @Order(3)
  void withoutTheTokenOrWithoutTheRegistryEveryApiCallFailsAsDocumented() {
    for (String[] op : documentedOperations()) {
      HttpMethod method = HttpMethod.valueOf(op[0].toUpperCase(Locale.ROOT));
      String path = sample(op[1]);
      if (!path.startsWith("/api/")) {
        continue;
      }
      JsonObject body = method == HttpMethod.POST ? sampleBody(op[1]) : null;
      bare.call(method, path, body, null, 401);
      bare.call(method, path, body, TOKEN, 503);
    }
    // One load a minute: the first was used above.
    bare.call(HttpMethod.POST, "/api/llm/load", sampleBody("/api/llm/load"), TOKEN, 429);
    bare.call(HttpMethod.GET, "/health", null, null, 503);
    bare.call(HttpMethod.GET, "/ready", null, null, 503);
    bare.call(HttpMethod.GET, "/metrics", null, null, 401);
    bare.call(HttpMethod.GET, "/metrics", null, TOKEN, 200);
    bare.call(HttpMethod.GET, "/openapi.json", null, null, 200);
  }

  @Test
  @Order(4)
  void everyDocumentedOperationWasSeenSucceedingAndFailing() {
    for (String[] op : documentedOperations()) {
      String key = op[0].toUpperCase(Locale.ROOT) + " " + op[1];
      Set<Integer> statuses = exercised.getOrDefault(key, Set.of());
      assertThat(statuses).as("statuses seen for %s", key).anyMatch(s -> s < 300);
      if (!key.equals("GET /openapi.json")) { // a static document: nothing to fail
        assertThat(statuses).as("statuses seen for %s", key).anyMatch(s -> s >= 400);
      }
    }
  }

  // ------------------------------------------------------------------ validation

  /** The response's status must be documented for the operation, and its body must match the schema. */
  private void validate(HttpMethod method, String path, HttpResponse<Buffer> response) {
    String template = templateFor(path.replaceFirst("\\?.*", ""));
    assertThat(template).as("a documented path for %s", path).isNotNull();
    JsonObject operation = operation(template, method.name().toLowerCase(Locale.ROOT));
    assertThat(operation).as("%s %s is documented", method, template).isNotNull();
    String where = method + " " + template + " → " + response.statusCode();
    JsonObject documented = resolve(operation.getJsonObject("responses").getJsonObject(String.valueOf(response.statusCode())));
    assertThat(documented).as("%s is a documented response; body %s", where, response.bodyAsString()).isNotNull();
    synchronized (exercised) {
      exercised.computeIfAbsent(method + " " + template, k -> new TreeSet<>()).add(response.statusCode());
    }
    JsonObject content = documented.getJsonObject("content");
    String type = response.getHeader("Content-Type");
    if (content == null) {
      assertThat(response.body() == null || response.body().length() == 0).as("%s has no body", where).isTrue();
    } else if (content.containsKey("application/json")) {
      assertThat(type).as("%s Content-Type", where).startsWith("application/json");
      Object body = Json.decodeValue(response.bodyAsString());
      JsonObject schema = absolute(content.getJsonObject("application/json").getJsonObject("schema"));
      OutputUnit result = schemas.validator(JsonSchema.of(schema),
          new JsonSchemaOptions().setDraft(Draft.DRAFT202012).setBaseUri(BASE_URI).setOutputFormat(OutputFormat.Basic)).validate(body);
      assertThat(result.getValid()).as("%s body %s matches %s: %s", where, abbreviate(response.bodyAsString()), schema, errors(result)).isTrue();
    } else {
      String documentedType = content.fieldNames().iterator().next();
      assertThat(type).as("%s Content-Type", where).startsWith(documentedType);
    }
  }

  private static String errors(OutputUnit result) {
    return result.getErrors() == null ? "" : result.getErrors().stream()
        .map(e -> e.getInstanceLocation() + " " + e.getKeywordLocation() + ": " + e.getError()).collect(Collectors.joining("; "));
  }

  /** A copy whose {@code #/...} references point into the document by its absolute URI. */
  private static JsonObject absolute(JsonObject schema) {
    return new JsonObject(schema.encode().replace("\"$ref\":\"#/", "\"$ref\":\"" + DOC_URI + "#/"));
  }

  /** Follows a {@code #/components/responses/...} reference. */
  private JsonObject resolve(JsonObject response) {
    if (response == null || !response.containsKey("$ref")) {
      return response;
    }
    JsonObject node = doc;
    for (String part : response.getString("$ref").substring(2).split("/")) {
      node = node.getJsonObject(part.replace("~1", "/").replace("~0", "~"));
    }
    return node;
  }

  private JsonObject operation(String template, String method) {
    JsonObject item = doc.getJsonObject("paths").getJsonObject(template);
    return item == null ? null : item.getJsonObject(method);
  }

  private String templateFor(String path) {
    for (String template : doc.getJsonObject("paths").fieldNames()) {
      if (path.matches(Pattern.quote(template).replaceAll("\\{[^}]+}", "\\\\E[^/]+\\\\Q"))) {
        return template;
      }
    }
    return null;
  }

  /** {method, path template} of every documented operation. */
  private List<String[]> documentedOperations() {
    List<String[]> ops = new ArrayList<>();
    JsonObject paths = doc.getJsonObject("paths");
    for (String template : paths.fieldNames()) {
      for (String method : List.of("get", "put", "post", "delete", "patch", "head", "options")) {
        if (paths.getJsonObject(template).containsKey(method)) {
          ops.add(new String[] {method, template});
        }
      }
    }
    return ops;
  }

  private static String sample(String template) {
    return template.replace("{operation_id}", NO_SUCH_ID).replace("{model_name}", "demo-tiny").replace("{id}", "no-such-schedule");
  }

  private static JsonObject sampleBody(String template) {
    JsonObject body = new JsonObject().put("model_name", "demo-tiny");
    return template.endsWith("/schedules") ? body.put("cron", "0 3 * * *") : body;
  }

  private void waitFor(String id, String status) throws InterruptedException {
    TestSupport.waitUntil(Duration.ofSeconds(60), () -> {
      String now = hoist.json(HttpMethod.GET, "/api/llm/progress/" + id, null, 200).getString("status");
      assertThat(now).as("operation %s", id).isNotEqualTo("error");
      return status.equals(now);
    });
  }

  private static List<String> strings(JsonArray array) {
    return array.stream().map(String::valueOf).toList();
  }

  private static String abbreviate(String text) {
    return text.length() <= 600 ? text : text.substring(0, 600) + "...";
  }
}
