package dev.hoist.mirror;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServerResponse;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.HashMap;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A hub that serves a local directory with the Hugging Face hub's endpoints (revision, tree,
 * resolve with Range), so Hoist works with no internet: {@code <root>/<owner>/<name>/<files>}.
 * Hoist mounts it under {@code /hub}; tests mount it in their own servers.
 */
public final class HubMirror {

  private static final Logger log = LoggerFactory.getLogger(HubMirror.class);
  private static final Pattern PART = Pattern.compile("[A-Za-z0-9](?:[A-Za-z0-9._-]{0,94}[A-Za-z0-9])?");
  private static final Pattern RANGE = Pattern.compile("bytes=(\\d*)-(\\d*)");
  private static final String INDEX_DIR = ".hoist-index";

  private final Vertx vertx;
  private final Path root;
  private final Map<String, MirrorRepo> indexed = new HashMap<>();

  public HubMirror(Vertx vertx, Path root) {
    this.vertx = vertx;
    this.root = root;
  }

  public Path root() {
    return root;
  }

  /** Creates the directory and, if asked, the demo models (once: they are kept). */
  public Future<Void> prepare(boolean demoModels) {
    return vertx.executeBlocking(() -> {
      Files.createDirectories(root);
      if (demoModels) {
        long start = System.nanoTime();
        DemoModels.ensure(root);
        log.info("Hub mirror at {} ready in {} ms", root, (System.nanoTime() - start) / 1_000_000);
      }
      return null;
    });
  }

  /** The mirror's routes, to mount with {@code router.route("/hub/*").subRouter(mirror.router())}. */
  public Router router() {
    Router router = Router.router(vertx);
    router.get("/api/models/:owner/:name/revision/:revision").handler(this::revision);
    router.get("/api/models/:owner/:name/tree/:revision").handler(this::tree);
    router.route(HttpMethod.GET, "/:owner/:name/resolve/:revision/*").handler(this::resolve);
    router.route(HttpMethod.HEAD, "/:owner/:name/resolve/:revision/*").handler(this::resolve);
    router.route().handler(ctx -> error(ctx, 404, "EndpointNotFound", "no such hub endpoint"));
    return router;
  }

  private void revision(RoutingContext ctx) {
    repoAt(ctx).onSuccess(repo -> {
      if (repo != null) {
        json(ctx, repo.revisionJson().encode(), repo.commit);
      }
    }).onFailure(ctx::fail);
  }

  private void tree(RoutingContext ctx) {
    repoAt(ctx).onSuccess(repo -> {
      if (repo != null) {
        json(ctx, repo.treeJson().encode(), repo.commit);
      }
    }).onFailure(ctx::fail);
  }

  private void resolve(RoutingContext ctx) {
    repoAt(ctx).onSuccess(repo -> {
      if (repo == null) {
        return;
      }
      MirrorRepo.Entry entry = repo.files.get(ctx.pathParam("*"));
      if (entry == null) {
        error(ctx, 404, "EntryNotFound", "no file '" + ctx.pathParam("*") + "' in " + repo.repo);
        return;
      }
      serve(ctx, repo, entry);
    }).onFailure(ctx::fail);
  }

  private void serve(RoutingContext ctx, MirrorRepo repo, MirrorRepo.Entry entry) {
    HttpServerResponse response = ctx.response()
        .putHeader("ETag", "\"" + entry.etag() + "\"")
        .putHeader("X-Repo-Commit", repo.commit)
        .putHeader("Accept-Ranges", "bytes")
        .putHeader("Content-Type", "application/octet-stream");
    if (entry.lfsSha256 != null) {
      response.putHeader("X-Linked-Etag", "\"" + entry.lfsSha256 + "\"").putHeader("X-Linked-Size", String.valueOf(entry.size));
    }
    long offset = 0;
    long length = entry.size;
    String range = ctx.request().getHeader("Range");
    if (range != null) {
      Matcher m = RANGE.matcher(range.trim());
      long start;
      long end;
      if (m.matches() && !(m.group(1).isEmpty() && m.group(2).isEmpty())) {
        if (m.group(1).isEmpty()) { // suffix range: the last N bytes
          long n = Long.parseLong(m.group(2));
          start = Math.max(0, entry.size - n);
          end = entry.size - 1;
        } else {
          start = Long.parseLong(m.group(1));
          end = m.group(2).isEmpty() ? entry.size - 1 : Math.min(Long.parseLong(m.group(2)), entry.size - 1);
        }
        if (start >= entry.size || start > end) {
          response.setStatusCode(416).putHeader("Content-Range", "bytes */" + entry.size).end();
          return;
        }
        offset = start;
        length = end - start + 1;
        response.setStatusCode(206).putHeader("Content-Range", "bytes " + start + "-" + end + "/" + entry.size);
      }
    }
    if (ctx.request().method() == HttpMethod.HEAD) {
      response.putHeader("Content-Length", String.valueOf(length)).end();
      return;
    }
    response.sendFile(entry.file.toString(), offset, length).onFailure(err -> {
      log.warn("Mirror could not send {}: {}", entry.path, err.getMessage());
      ctx.request().connection().close();
    });
  }

  /** The indexed repo the request names, or null after answering 404. */
  private Future<MirrorRepo> repoAt(RoutingContext ctx) {
    String owner = ctx.pathParam("owner");
    String name = ctx.pathParam("name");
    String revision = ctx.pathParam("revision");
    if (!PART.matcher(owner).matches() || !PART.matcher(name).matches()) {
      error(ctx, 404, "RepoNotFound", "Repository not found");
      return Future.succeededFuture();
    }
    String repoId = owner + "/" + name;
    Path dir = root.resolve(owner).resolve(name);
    return vertx.executeBlocking(() -> Files.isDirectory(dir) ? index(repoId, dir) : null).map(repo -> {
      if (repo == null) {
        error(ctx, 404, "RepoNotFound", "Repository " + repoId + " not found");
        return null;
      }
      if (!revision.equals("main") && !revision.equals(repo.commit)) {
        error(ctx, 404, "RevisionNotFound", "Revision " + revision + " not found in " + repoId);
        return null;
      }
      return repo;
    });
  }

  /** Indexes a repo on a worker, reusing hashes kept in {@code .hoist-index/} across restarts. */
  private synchronized MirrorRepo index(String repoId, Path dir) throws IOException {
    MirrorRepo previous = indexed.get(repoId);
    Path saved = root.resolve(INDEX_DIR).resolve(repoId.replace("/", "--") + ".json");
    Map<String, MirrorRepo.Entry> known = previous != null ? previous.files : null;
    if (known == null && Files.isRegularFile(saved)) {
      try {
        known = MirrorRepo.entriesFromJson(new JsonObject(Files.readString(saved, StandardCharsets.UTF_8)), dir);
      } catch (RuntimeException e) {
        log.warn("Ignoring unreadable mirror index {}: {}", saved, e.getMessage());
      }
    }
    MirrorRepo repo = MirrorRepo.index(repoId, dir, known);
    if (previous == null || !previous.commit.equals(repo.commit)) {
      Files.createDirectories(saved.getParent());
      Path tmp = saved.resolveSibling(saved.getFileName() + ".tmp");
      Files.writeString(tmp, repo.toJson().encode(), StandardCharsets.UTF_8);
      Files.move(tmp, saved, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    }
    indexed.put(repoId, repo);
    return repo;
  }

  private static void json(RoutingContext ctx, String body, String commit) {
    ctx.response().putHeader("Content-Type", "application/json").putHeader("X-Repo-Commit", commit).end(body);
  }

  private static void error(RoutingContext ctx, int status, String code, String message) {
    ctx.response().setStatusCode(status).putHeader("Content-Type", "application/json").putHeader("X-Error-Code", code)
        .end(new JsonObject().put("error", message).encode());
  }
}
