package dev.hoist.registry;

import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;

/**
 * Where operations survive a restart: an SQLite database in the data dir, in WAL mode, one row per
 * operation holding its whole state as JSON plus the columns history queries filter on. Every method
 * blocks; the registry calls them on one dedicated worker thread, batched.
 */
final class OperationStore implements AutoCloseable {

  private static final int SCHEMA_VERSION = 1;

  private final Connection db;

  private OperationStore(Connection db) {
    this.db = db;
  }

  static OperationStore open(Path file) throws IOException, SQLException {
    Files.createDirectories(file.getParent());
    Connection db = DriverManager.getConnection("jdbc:sqlite:" + file);
    try (Statement s = db.createStatement()) {
      // WAL: readers never block the writer; NORMAL sync is durable against a process crash (kill -9).
      s.execute("PRAGMA journal_mode=WAL");
      s.execute("PRAGMA synchronous=NORMAL");
      s.execute("PRAGMA busy_timeout=5000");
      s.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)");
      s.execute("CREATE TABLE IF NOT EXISTS operations ("
          + " id TEXT PRIMARY KEY,"
          + " model_name TEXT NOT NULL,"
          + " status TEXT NOT NULL,"
          + " created_at TEXT NOT NULL,"
          + " updated_at TEXT NOT NULL,"
          + " finished_at TEXT,"
          + " live INTEGER NOT NULL DEFAULT 1,"
          + " state TEXT NOT NULL)");
      s.execute("CREATE INDEX IF NOT EXISTS operations_by_model ON operations(model_name, created_at)");
      s.execute("CREATE INDEX IF NOT EXISTS operations_live ON operations(live)");
      s.execute("CREATE TABLE IF NOT EXISTS schedules (id TEXT PRIMARY KEY, state TEXT NOT NULL)");
      s.execute("INSERT OR IGNORE INTO meta(key, value) VALUES ('schema_version', '" + SCHEMA_VERSION + "')");
    } catch (SQLException e) {
      db.close();
      throw e;
    }
    db.setAutoCommit(false);
    return new OperationStore(db);
  }

  /** Writes the given states in one transaction. */
  void save(Collection<JsonObject> states) throws SQLException {
    if (states.isEmpty()) {
      return;
    }
    String sql = "INSERT INTO operations(id, model_name, status, created_at, updated_at, finished_at, live, state)"
        + " VALUES (?, ?, ?, ?, ?, ?, 1, ?)"
        + " ON CONFLICT(id) DO UPDATE SET status=excluded.status, updated_at=excluded.updated_at,"
        + " finished_at=excluded.finished_at, state=excluded.state";
    try (PreparedStatement ps = db.prepareStatement(sql)) {
      for (JsonObject state : states) {
        ps.setString(1, state.getString("operation_id"));
        ps.setString(2, state.getString("model_name"));
        ps.setString(3, state.getString("status"));
        ps.setString(4, state.getString("created_at"));
        ps.setString(5, state.getString("updated_at"));
        ps.setString(6, state.getString("finished_at"));
        ps.setString(7, state.encode());
        ps.addBatch();
      }
      ps.executeBatch();
      db.commit();
    } catch (SQLException e) {
      db.rollback();
      throw e;
    }
  }

  void saveSchedule(JsonObject schedule) throws SQLException {
    try (PreparedStatement ps = db.prepareStatement(
        "INSERT INTO schedules(id, state) VALUES (?, ?) ON CONFLICT(id) DO UPDATE SET state=excluded.state")) {
      ps.setString(1, schedule.getString("id"));
      ps.setString(2, schedule.encode());
      ps.executeUpdate();
      db.commit();
    }
  }

  void deleteSchedule(String id) throws SQLException {
    try (PreparedStatement ps = db.prepareStatement("DELETE FROM schedules WHERE id = ?")) {
      ps.setString(1, id);
      ps.executeUpdate();
      db.commit();
    }
  }

  List<JsonObject> loadSchedules() throws SQLException {
    return query("SELECT state FROM schedules ORDER BY id", List.of());
  }

  /** The operation leaves the live list; its history stays. */
  void retire(String id) throws SQLException {
    try (PreparedStatement ps = db.prepareStatement("UPDATE operations SET live = 0 WHERE id = ?")) {
      ps.setString(1, id);
      ps.executeUpdate();
      db.commit();
    }
  }

  /** The operations of the live list, oldest first. */
  List<JsonObject> loadLive() throws SQLException {
    return query("SELECT state FROM operations WHERE live = 1 ORDER BY created_at ASC", List.of());
  }

  /** History, newest first, filtered by model name and status when given. */
  List<JsonObject> history(String model, String status, int limit) throws SQLException {
    StringBuilder sql = new StringBuilder("SELECT state FROM operations WHERE 1=1");
    List<Object> args = new ArrayList<>();
    if (model != null) {
      sql.append(" AND model_name = ?");
      args.add(model);
    }
    if (status != null) {
      sql.append(" AND status = ?");
      args.add(status);
    }
    sql.append(" ORDER BY created_at DESC LIMIT ?");
    args.add(limit);
    return query(sql.toString(), args);
  }

  /** Finished operations, newest first, for statistics. */
  List<JsonObject> finished(int limit) throws SQLException {
    return query("SELECT state FROM operations WHERE finished_at IS NOT NULL ORDER BY created_at DESC LIMIT ?", List.of(limit));
  }

  private List<JsonObject> query(String sql, List<Object> args) throws SQLException {
    List<JsonObject> out = new ArrayList<>();
    try (PreparedStatement ps = db.prepareStatement(sql)) {
      for (int i = 0; i < args.size(); i++) {
        ps.setObject(i + 1, args.get(i));
      }
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          out.add(new JsonObject(rs.getString(1)));
        }
      }
    }
    db.commit();
    return out;
  }

  @Override
  public void close() throws SQLException {
    db.close();
  }
}
