package dev.hoist.client;

import static dev.hoist.contract.EventBusContract.*;

import io.vertx.core.json.JsonObject;
import java.util.Objects;

/**
 * One entry of the model catalog as {@link HoistClient#models()} returns it: the alias, where it
 * comes from, and whether it is downloaded and loaded on this node.
 */
public final class CatalogModel {

  private final JsonObject json;

  public CatalogModel(JsonObject json) {
    this.json = Objects.requireNonNull(json, "json").copy();
  }

  /** The alias to load it by, e.g. {@code demo-tiny}. */
  public String name() {
    return json.getString("name");
  }

  public String repo() {
    return json.getString(REPO);
  }

  public String revision() {
    return json.getString(REVISION);
  }

  /** The hub's configured name ({@code mirror}, {@code huggingface}). */
  public String hub() {
    return json.getString(HUB);
  }

  public String description() {
    return json.getString("description");
  }

  public String sizeHint() {
    return json.getString("size_hint");
  }

  /** True or false, or null when the download stage did not answer. */
  public Boolean downloaded() {
    return json.getBoolean(DOWNLOADED);
  }

  /** True or false, or null when the load stage did not answer. */
  public Boolean loaded() {
    return json.getBoolean(LOADED);
  }

  public JsonObject json() {
    return json.copy();
  }

  @Override
  public String toString() {
    return "CatalogModel[" + name() + " " + repo() + "@" + revision() + "]";
  }
}
