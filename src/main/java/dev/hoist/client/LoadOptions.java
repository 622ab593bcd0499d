package dev.hoist.client;

import static dev.hoist.contract.EventBusContract.*;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The optional parts of a load request, the same as the fields of {@code POST /api/llm/load}:
 *
 * <pre>{@code
 * LoadOptions options = LoadOptions.builder()
 *     .revision("v1.0")
 *     .include("*.safetensors", "config.json")
 *     .maxBytesPerSecond(20_000_000)
 *     .priority(10)
 *     .build();
 * }</pre>
 *
 * The registry validates them (a bad value fails the load with {@code bad_request} and creates
 * nothing); this class only carries them. Unset options are left out of the request.
 */
public final class LoadOptions {

  /** No options: the catalog's revision, the default file selection, no limit, priority 0. */
  public static final LoadOptions NONE = builder().build();

  private final String revision;
  private final List<String> include;
  private final String quantization;
  private final String file;
  private final Long maxBytesPerSecond;
  private final Integer priority;
  private final String node;
  private final Object nodes;

  private LoadOptions(Builder b) {
    this.revision = b.revision;
    this.include = b.include == null ? null : List.copyOf(b.include);
    this.quantization = b.quantization;
    this.file = b.file;
    this.maxBytesPerSecond = b.maxBytesPerSecond;
    this.priority = b.priority;
    this.node = b.node;
    this.nodes = b.nodes;
  }

  public static Builder builder() {
    return new Builder();
  }

  /** The request body for {@code modelName}: {@code {model_name, ...set options}}. */
  public JsonObject toRequest(String modelName) {
    JsonObject body = new JsonObject().put(MODEL_NAME, modelName);
    if (revision != null) {
      body.put(REVISION, revision);
    }
    if (include != null) {
      body.put(INCLUDE, new JsonArray(new ArrayList<>(include)));
    }
    if (quantization != null) {
      body.put(QUANTIZATION, quantization);
    }
    if (file != null) {
      body.put(FILE, file);
    }
    if (maxBytesPerSecond != null) {
      body.put(MAX_BYTES_PER_SECOND, maxBytesPerSecond);
    }
    if (priority != null) {
      body.put("priority", priority);
    }
    if (node != null) {
      body.put(NODE, node);
    }
    if (nodes != null) {
      body.put(NODES, nodes instanceof List ? new JsonArray(new ArrayList<>((List<?>) nodes)) : nodes);
    }
    return body;
  }

  /** Builds {@link LoadOptions}; every setter is optional. */
  public static final class Builder {
    private String revision;
    private List<String> include;
    private String quantization;
    private String file;
    private Long maxBytesPerSecond;
    private Integer priority;
    private String node;
    private Object nodes;

    private Builder() {
    }

    /** A branch, tag or commit instead of the catalog's revision. */
    public Builder revision(String revision) {
      this.revision = revision;
      return this;
    }

    /** Glob patterns of the repo files to fetch instead of the default selection. */
    public Builder include(String... patterns) {
      this.include = Arrays.asList(patterns);
      return this;
    }

    public Builder include(List<String> patterns) {
      this.include = new ArrayList<>(patterns);
      return this;
    }

    /** For GGUF repos: the quantization to pick, e.g. {@code Q4_K_M}. */
    public Builder quantization(String quantization) {
      this.quantization = quantization;
      return this;
    }

    /** For GGUF repos: the exact file to load. */
    public Builder file(String file) {
      this.file = file;
      return this;
    }

    /** A bandwidth limit for this load's download (at least 1024). */
    public Builder maxBytesPerSecond(long bytesPerSecond) {
      this.maxBytesPerSecond = bytesPerSecond;
      return this;
    }

    /** −100…100; higher runs first when loads queue. */
    public Builder priority(int priority) {
      this.priority = priority;
      return this;
    }

    /** In a fleet: the node to load on (default: the node with the most memory free for models). */
    public Builder node(String node) {
      this.node = node;
      this.nodes = null;
      return this;
    }

    /** In a fleet: load on these nodes, as one parent operation with a child per node. */
    public Builder nodes(List<String> nodes) {
      this.nodes = new ArrayList<>(nodes);
      this.node = null;
      return this;
    }

    /** In a fleet: load on every node that is up, as one parent operation. */
    public Builder allNodes() {
      this.nodes = "all";
      this.node = null;
      return this;
    }

    public LoadOptions build() {
      return new LoadOptions(this);
    }
  }
}
