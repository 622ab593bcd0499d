package dev.hoist.download;

import static dev.hoist.contract.EventBusContract.*;

import dev.hoist.HoistConfig;
import dev.hoist.contract.ErrorCode;
import dev.hoist.contract.Failures;
import dev.hoist.contract.HoistException;
import dev.hoist.contract.ModelRef;
import dev.hoist.contract.StageReporter;
import dev.hoist.registry.ModelCatalog;
import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import io.vertx.core.eventbus.EventBus;
import io.vertx.core.eventbus.Message;
import io.vertx.core.eventbus.MessageConsumer;
import io.vertx.core.http.HttpClient;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.http.PoolOptions;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.client.WebClient;
import io.vertx.ext.web.client.WebClientOptions;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The download stage: fetches a model's files from a hub into the Hugging Face cache and reports
 * progress from the bytes it writes. Knows nothing of HTTP clients of Hoist, only of hubs.
 */
public class DownloadVerticle extends VerticleBase {

  private static final Logger log = LoggerFactory.getLogger(DownloadVerticle.class);

  private final List<MessageConsumer<?>> consumers = new ArrayList<>();
  /** Blobs being fetched right now: a second job for the same blob waits instead of writing it twice. */
  private final Map<Path, Future<Void>> inFlight = new HashMap<>();
  private HoistConfig settings;
  private HubCache cache;
  private HubClient hubs;
  private HttpClient http;
  private WebClient web;
  private Throttle throttle;

  @Override
  public Future<?> start() {
    settings = new HoistConfig(config()).validate();
    cache = new HubCache(settings.hubCache());
    Map<String, String> endpoints = new LinkedHashMap<>();
    endpoints.put(ModelCatalog.DEFAULT_HUB, settings.hfEndpoint());
    if (settings.mirrorEndpoint() != null) {
      endpoints.put(ModelCatalog.MIRROR_HUB, settings.mirrorEndpoint());
    }
    HttpClientOptions clientOptions = new HttpClientOptions()
        .setConnectTimeout(10_000)
        // No byte for this long → the connection is dropped and the transfer resumes on a new one.
        .setIdleTimeout(settings.downloadStallSeconds())
        .setIdleTimeoutUnit(TimeUnit.SECONDS)
        .setKeepAlive(true);
    http = vertx.createHttpClient(clientOptions, new PoolOptions().setHttp1MaxSize(16));
    web = WebClient.create(vertx, new WebClientOptions().setConnectTimeout(10_000).setUserAgent("hoist/0.1"));
    hubs = new HubClient(web, endpoints, ModelCatalog.DEFAULT_HUB, settings.hfToken(), 30_000);
    throttle = new Throttle(settings.downloadMaxBytesPerSecond());
    log.info("Download stage: cache {}, hubs {}", cache.root, endpoints.keySet());
    EventBus bus = vertx.eventBus();
    consumers.add(bus.<JsonObject>consumer(DOWNLOAD_START, this::start));
    consumers.add(bus.<JsonObject>consumer(DOWNLOAD_CACHED, this::cached));
    consumers.add(bus.<JsonObject>consumer(PING_PREFIX + VERTICLE_DOWNLOAD,
        m -> m.reply(new JsonObject().put(VERTICLE, VERTICLE_DOWNLOAD))));
    return Future.all(consumers.stream().map(MessageConsumer::completion).toList());
  }

  private void start(Message<JsonObject> msg) {
    JsonObject body = msg.body();
    String opId = body.getString(OPERATION_ID);
    int attempt = body.getInteger(ATTEMPT, 1);
    String hub = body.getString(HUB, ModelCatalog.DEFAULT_HUB);
    ModelRef ref;
    try {
      if (opId == null) {
        throw new HoistException(ErrorCode.BAD_REQUEST, "operation_id is required");
      }
      ref = ModelRef.of(body.getString(REPO, ""), body.getString(REVISION, "main"));
      hubs.endpoint(hub);
    } catch (RuntimeException e) {
      Failures.reply(msg, e);
      return;
    }
    msg.reply(new JsonObject().put(ACCEPTED, true));
    StageReporter reporter = new StageReporter(vertx, opId, attempt, "initializing", settings.progressIntervalMs());
    DownloadJob job = new DownloadJob(this, reporter, ref.repo, ref.revision, hub);
    job.run().onComplete(ar -> {
      if (ar.succeeded()) {
        reporter.completed(ar.result(), job.finalFields());
      } else {
        HoistException error = Failures.toHoist(ar.cause());
        if (error.code() == ErrorCode.INTERNAL) {
          log.error("Download for operation {} failed", opId, ar.cause());
        }
        reporter.failed(error);
      }
    });
  }

  private void cached(Message<JsonObject> msg) {
    JsonArray models = msg.body().getJsonArray(MODELS, new JsonArray());
    vertx.executeBlocking(() -> {
      JsonArray out = new JsonArray();
      for (int i = 0; i < models.size(); i++) {
        JsonObject m = models.getJsonObject(i).copy();
        m.put(DOWNLOADED, cache.isDownloaded(m.getString(REPO, ""), m.getString(REVISION, "main")));
        out.add(m);
      }
      return new JsonObject().put(MODELS, out);
    }).onSuccess(msg::reply).onFailure(err -> Failures.reply(msg, err));
  }

  /** Runs {@code work} for a blob once at a time; a later caller starts after the earlier one ends. */
  Future<Void> exclusive(Path blob, Supplier<Future<Void>> work) {
    Future<Void> before = inFlight.get(blob);
    Future<Void> mine = (before == null ? Future.<Void>succeededFuture() : before.transform(ar -> Future.<Void>succeededFuture()))
        .compose(v -> work.get());
    inFlight.put(blob, mine);
    return mine.andThen(ar -> inFlight.remove(blob, mine));
  }

  io.vertx.core.Vertx vertx() {
    return vertx;
  }

  HubCache cache() {
    return cache;
  }

  HubClient hubs() {
    return hubs;
  }

  HttpClient http() {
    return http;
  }

  Throttle throttle() {
    return throttle;
  }

  HoistConfig settings() {
    return settings;
  }

  @Override
  public Future<?> stop() {
    web.close();
    return Future.all(consumers.stream().map(MessageConsumer::unregister).toList())
        .compose(v -> http.close());
  }
}
