package dev.hoist.load;

import io.vertx.core.Vertx;
import io.vertx.core.shareddata.LocalMap;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;

/**
 * The embedding API: the models the load verticle deployed in {@code vertx} holds in memory, with
 * their tensors readable in place.
 *
 * <pre>{@code
 * Hoist.deploy(vertx, config);            // or deploy LoadVerticle yourself
 * // ... once a load of hoist/demo-tiny has completed:
 * LoadedModel model = LoadedModels.get(vertx, "hoist/demo-tiny").orElseThrow();
 * TensorView norm = model.tensor("model.norm.weight").orElseThrow();
 * FloatBuffer weights = norm.data().asFloatBuffer();   // read-only, no copy
 * }</pre>
 *
 * Backed by the Vert.x instance's local shared data, so each {@code Vertx} has its own registry and
 * it goes away with it. Callable from any thread.
 */
public final class LoadedModels {

  /** The local map the load verticle keeps its models in, by model key. */
  static final String MAP = "hoist.load.models";

  private LoadedModels() {
  }

  /**
   * The loaded model of {@code repo} ({@code owner/name}), or of exactly that {@code repo@commit};
   * when several commits of a repo are loaded, the most recently loaded one.
   */
  public static Optional<LoadedModel> get(Vertx vertx, String repoOrKey) {
    return list(vertx).stream()
        .filter(m -> m.key().equals(repoOrKey) || m.repo().equals(repoOrKey))
        .max(Comparator.comparing(LoadedModel::loadedAt));
  }

  /** Every model loaded in {@code vertx}, oldest first. */
  public static List<LoadedModel> list(Vertx vertx) {
    List<LoadedModel> out = new ArrayList<>(map(vertx).values());
    out.sort(Comparator.comparing(LoadedModel::loadedAt));
    return out;
  }

  static LocalMap<String, LoadedModel> map(Vertx vertx) {
    return vertx.sharedData().getLocalMap(MAP);
  }
}
