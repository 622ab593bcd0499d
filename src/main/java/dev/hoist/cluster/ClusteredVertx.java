package dev.hoist.cluster;

import com.hazelcast.config.Config;
import com.hazelcast.config.JoinConfig;
import com.hazelcast.config.NetworkConfig;
import dev.hoist.HoistConfig;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import io.vertx.core.eventbus.EventBusOptions;
import io.vertx.core.spi.VertxMetricsFactory;
import io.vertx.spi.cluster.hazelcast.ConfigUtil;
import io.vertx.spi.cluster.hazelcast.HazelcastClusterManager;

/**
 * A Vert.x instance whose event bus spans the fleet, through Hazelcast (vertx-hazelcast). Members
 * are found over TCP from {@code HOIST_CLUSTER_MEMBERS} only: multicast and cloud auto-detection are
 * off, so a node never joins a fleet it was not told about. Hazelcast's own failure detector is
 * tightened so a crashed member leaves the cluster (and its event-bus registrations with it) in
 * seconds rather than the default minute; Hoist's heartbeats say when a node's operations are lost.
 */
public final class ClusteredVertx {

  private ClusteredVertx() {
  }

  /** The Hazelcast configuration for this node: Vert.x's defaults (its maps), then ours. */
  public static Config hazelcastConfig(HoistConfig settings) {
    Config hz = ConfigUtil.loadConfig();
    hz.setClusterName(settings.clusterName());
    hz.setProperty("hazelcast.phone.home.enabled", "false");
    hz.setProperty("hazelcast.logging.type", "slf4j");
    hz.setProperty("hazelcast.socket.bind.any", "false");
    hz.setProperty("hazelcast.wait.seconds.before.join", "0");
    hz.setProperty("hazelcast.heartbeat.interval.seconds", "1");
    hz.setProperty("hazelcast.max.no.heartbeat.seconds", String.valueOf(Math.max(5, settings.clusterNodeTimeoutMs() / 1000 * 2)));
    hz.setProperty("hazelcast.shutdownhook.enabled", "false"); // Vert.x leaves the cluster on close
    NetworkConfig network = hz.getNetworkConfig();
    network.setPort(settings.clusterPort()).setPortAutoIncrement(true).setPortCount(100);
    network.getInterfaces().setEnabled(true).clear().addInterface(settings.clusterHost());
    JoinConfig join = network.getJoin();
    join.getMulticastConfig().setEnabled(false);
    join.getAutoDetectionConfig().setEnabled(false);
    join.getTcpIpConfig().setEnabled(true).setMembers(settings.clusterMembers());
    return hz;
  }

  /** Joins the fleet; fails when Hazelcast cannot start (a port taken, a bad address). */
  public static Future<Vertx> start(HoistConfig settings, VertxOptions options, VertxMetricsFactory metrics) {
    VertxOptions clustered = new VertxOptions(options).setEventBusOptions(new EventBusOptions()
        .setHost(settings.clusterHost()).setPort(settings.clusterBusPort())
        .setClusterPublicHost(settings.clusterHost()));
    var builder = Vertx.builder().with(clustered).withClusterManager(new HazelcastClusterManager(hazelcastConfig(settings)));
    if (metrics != null) {
      builder = builder.withMetrics(metrics);
    }
    return builder.buildClustered();
  }
}
