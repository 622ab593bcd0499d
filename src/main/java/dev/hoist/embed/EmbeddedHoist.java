package dev.hoist.embed;

import dev.hoist.client.HoistClient;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import java.util.ArrayList;
import java.util.Collections;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;

/** What {@link HoistModules.Builder#deploy} started, and how to stop it again. */
public final class EmbeddedHoist {

  private final Vertx vertx;
  private final List<String> deploymentIds;
  private final Set<HoistModules.Module> modules;
  private final int httpPort;

  EmbeddedHoist(Vertx vertx, List<String> deploymentIds, Set<HoistModules.Module> modules, int httpPort) {
    this.vertx = vertx;
    this.deploymentIds = List.copyOf(deploymentIds);
    this.modules = Collections.unmodifiableSet(EnumSet.copyOf(modules));
    this.httpPort = httpPort;
  }

  /** The modules deployed. */
  public Set<HoistModules.Module> modules() {
    return modules;
  }

  /** Vert.x deployment ids, in deployment order. */
  public List<String> deploymentIds() {
    return deploymentIds;
  }

  /** The gateway's HTTP port, or -1 without a gateway. */
  public int httpPort() {
    return httpPort;
  }

  /** A typed client on the same Vert.x (any number may be created; they hold nothing). */
  public HoistClient client() {
    return HoistClient.create(vertx);
  }

  /** Undeploys in reverse order: the registry stops first and writes what it holds to its database. */
  public Future<Void> undeploy() {
    List<String> reversed = new ArrayList<>(deploymentIds);
    Collections.reverse(reversed);
    Future<Void> chain = Future.succeededFuture();
    for (String id : reversed) {
      chain = chain.compose(v -> vertx.undeploy(id));
    }
    return chain;
  }
}
