package dev.hoist.registry;

import dev.hoist.contract.ErrorCode;
import dev.hoist.contract.EventBusContract;
import dev.hoist.contract.HoistException;
import dev.hoist.contract.ModelRef;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The model catalog ({@code conf/models.json}): friendly aliases for hub repositories. A name that is
 * not an alias but looks like {@code owner/name[@revision]} goes to the default hub.
 */
public final class ModelCatalog {

  /** Hub name for repo ids typed by a user: the configured HF_ENDPOINT. */
  public static final String DEFAULT_HUB = "huggingface";
  public static final String MIRROR_HUB = "mirror";

  /** A resolved request: which repo, at which revision, on which hub. */
  public static final class Entry {
    public final String name;
    public final ModelRef ref;
    public final String hub;
    public final JsonObject json;

    public Entry(String name, ModelRef ref, String hub, JsonObject json) {
      this.name = name;
      this.ref = ref;
      this.hub = hub;
      this.json = json;
    }

    /** The same model at another revision (the request's {@code revision} option). */
    Entry atRevision(String revision) {
      return new Entry(name, ModelRef.of(ref.repo, revision), hub, json);
    }
  }

  private final Map<String, Entry> aliases;

  private ModelCatalog(Map<String, Entry> aliases) {
    this.aliases = aliases;
  }

  public static ModelCatalog parse(JsonObject json) {
    Map<String, Entry> aliases = new LinkedHashMap<>();
    JsonArray models = json.getJsonArray("models", new JsonArray());
    for (int i = 0; i < models.size(); i++) {
      JsonObject m = models.getJsonObject(i);
      String name = m.getString("name");
      if (name == null || name.isBlank() || name.contains("/")) {
        throw new IllegalArgumentException("model catalog entry " + i + " needs a 'name' without '/'");
      }
      String hub = m.getString(EventBusContract.HUB, DEFAULT_HUB);
      ModelRef ref = ModelRef.of(m.getString(EventBusContract.REPO, ""), m.getString(EventBusContract.REVISION, "main"));
      if (aliases.put(name, new Entry(name, ref, hub, m)) != null) {
        throw new IllegalArgumentException("model catalog names '" + name + "' twice");
      }
    }
    return new ModelCatalog(aliases);
  }

  /** Resolves a user's {@code model_name}; throws 404 for an unknown alias, 400 for a bad repo id. */
  public Entry resolve(String modelName) {
    Entry alias = aliases.get(modelName);
    if (alias != null) {
      return alias;
    }
    if (!ModelRef.looksLikeRepoId(modelName)) {
      throw new HoistException(ErrorCode.MODEL_NOT_FOUND, "Unknown model '" + ModelRef.abbreviate(modelName)
          + "': not in the catalog (GET /api/llm/models lists it) and not a hub repo id like owner/name");
    }
    ModelRef ref = ModelRef.parse(modelName, "main");
    // A repo id that a catalog entry names is served from that entry's hub.
    for (Entry e : aliases.values()) {
      if (e.ref.repo.equals(ref.repo)) {
        return new Entry(modelName, ref, e.hub, e.json);
      }
    }
    return new Entry(modelName, ref, DEFAULT_HUB, new JsonObject());
  }

  public List<Entry> entries() {
    return Collections.unmodifiableList(new ArrayList<>(aliases.values()));
  }
}
