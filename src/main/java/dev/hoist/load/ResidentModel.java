package dev.hoist.load;

import io.vertx.core.json.JsonObject;
import java.nio.MappedByteBuffer;
import java.time.Instant;
import java.util.List;

/** A model whose tensor data is mapped and paged in; it stays so while this object is referenced. */
final class ResidentModel {

  final String key;
  final String repo;
  final String commit;
  final List<MappedByteBuffer> mappings;
  final long bytes;
  final JsonObject summary;
  final Instant loadedAt;

  ResidentModel(String key, String repo, String commit, List<MappedByteBuffer> mappings, long bytes, JsonObject summary) {
    this.key = key;
    this.repo = repo;
    this.commit = commit;
    this.mappings = mappings;
    this.bytes = bytes;
    this.summary = summary;
    this.loadedAt = Instant.now();
  }

  JsonObject toJson() {
    return new JsonObject()
        .put("model_key", key)
        .put("repo", repo)
        .put("commit", commit)
        .put("bytes_resident", bytes)
        .put("loaded_at", loadedAt.toString())
        .put("summary", summary.copy());
  }
}
