package dev.hoist.support;

import dev.hoist.HoistConfig;
import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.net.ServerSocket;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * A fleet of Hoist nodes for tests, all on 127.0.0.1: a cluster name of its own (so concurrent
 * runs never join each other), one Hazelcast port per node from a run of free ports, each node
 * listing all of them as members, and heartbeats fast enough for a test to see a node lost.
 */
public final class TestFleet {

  public static final long HEARTBEAT_MS = 500;
  public static final long NODE_TIMEOUT_MS = 4_000;

  private final String clusterName = "hoist-test-" + System.nanoTime();
  private final int basePort;
  private final int size;

  public TestFleet(int size) throws IOException {
    this.size = size;
    this.basePort = freePortRun(size);
  }

  /** Node {@code index} (0-based) named {@code name}, with its own data dir; its Hazelcast port is fixed, so a restart keeps it. */
  public JsonObject nodeConfig(int index, String name, Path dataDir) throws IOException {
    List<String> members = new ArrayList<>();
    for (int i = 0; i < size; i++) {
      members.add("127.0.0.1:" + (basePort + i));
    }
    return TestSupport.config(dataDir)
        .put(HoistConfig.CLUSTER_ENABLED, true)
        .put(HoistConfig.NODE_NAME, name)
        .put(HoistConfig.CLUSTER_NAME, clusterName)
        .put(HoistConfig.CLUSTER_HOST, "127.0.0.1")
        .put(HoistConfig.CLUSTER_PORT, basePort + index)
        .put(HoistConfig.CLUSTER_MEMBERS, String.join(",", members))
        .put(HoistConfig.CLUSTER_HEARTBEAT_MS, HEARTBEAT_MS)
        .put(HoistConfig.CLUSTER_NODE_TIMEOUT_MS, NODE_TIMEOUT_MS);
  }

  /** The first of {@code count} consecutive ports that are free now. */
  private static int freePortRun(int count) throws IOException {
    for (int attempt = 0; attempt < 50; attempt++) {
      int first;
      try (ServerSocket s = new ServerSocket(0)) {
        first = s.getLocalPort();
      }
      if (first + count > 65535) {
        continue;
      }
      boolean free = true;
      for (int p = first; p < first + count && free; p++) {
        try (ServerSocket s = new ServerSocket(p)) {
          free = true;
        } catch (IOException e) {
          free = false;
        }
      }
      if (free) {
        return first;
      }
    }
    throw new IllegalStateException("no run of " + count + " free ports");
  }
}
