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
import io.vertx.core.net.NetClient;
import io.vertx.core.net.NetClientOptions;
import io.vertx.core.net.PemTrustOptions;
import io.vertx.core.http.PoolOptions;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The download stage: fetches a model's files from a hub into the Hugging Face cache and reports
 * progress from the bytes it writes. Knows nothing of HTTP clients of Hoist, only of hubs.
 */
public class DownloadVerticle extends VerticleBase {

  private static final Logger log = LoggerFactory.getLogger(DownloadVerticle.class);
  /** How long stopping waits for transfers to save their state and let go of their files. */
  private static final long STOP_GRACE_MS = 5_000;

  private final List<MessageConsumer<?>> consumers = new ArrayList<>();
  /** The job of each operation being downloaded, to cancel it. */
  private final Map<String, DownloadJob> jobs = new HashMap<>();
  private HoistConfig settings;
  private HubCache cache;
  private HubClient hubs;
  private HubFiles files;
  private NetClient net;
  private HttpClient http;
  /** The metadata API's own pool, so a revision lookup never waits behind long file transfers. */
  private HttpClient meta;
  private Throttle throttle;
  private ConnectionSlots slots;
  private Transfers transfers;
  private Redactor redactor;

  @Override
  public Future<?> start() {
    settings = new HoistConfig(config()).validate();
    // The stage's own keys, checked here so a typo fails the deployment.
    settings.downloadParallelFiles();
    settings.downloadConnectionsPerFile();
    settings.downloadMaxConnections();
    settings.downloadChunkBytes();
    settings.downloadDirect();
    settings.downloadSplitBelowBytesPerSecond();
    cache = new HubCache(settings.hubCache());
    redactor = new Redactor(settings.hfToken());
    Map<String, String> endpoints = new LinkedHashMap<>();
    endpoints.put(ModelCatalog.DEFAULT_HUB, settings.hfEndpoint());
    if (settings.mirrorEndpoint() != null) {
      endpoints.put(ModelCatalog.MIRROR_HUB, settings.mirrorEndpoint());
    }
    HttpClientOptions clientOptions = new HttpClientOptions()
        .setConnectTimeout(10_000)
        // A backstop only: each transfer's StallWatchdog replaces a silent connection after
        // HOIST_DOWNLOAD_STALL_SECONDS, and shows the stall while it does.
        .setIdleTimeout(settings.downloadStallSeconds() * 2 + 10)
        .setIdleTimeoutUnit(TimeUnit.SECONDS)
        .setKeepAlive(true);
    HttpClientOptions metaOptions = new HttpClientOptions().setConnectTimeout(10_000).setKeepAlive(true);
    // https hubs: certificates checked against the system's trust store (or HOIST_HUB_CA_FILE) and the
    // host name checked against the certificate, on both clients; trust-all is never used.
    for (HttpClientOptions options : List.of(clientOptions, metaOptions)) {
      options.setVerifyHost(true).setTrustAll(false);
      if (settings.hubCaFile() != null) {
        options.setTrustOptions(new PemTrustOptions().addCertPath(settings.hubCaFile().toString()));
      }
    }
    // The lean reader's connections (DirectGet): the same deadlines and the same trust, host names checked.
    NetClientOptions netOptions = new NetClientOptions().setConnectTimeout(10_000)
        .setIdleTimeout(settings.downloadStallSeconds() * 2 + 10).setIdleTimeoutUnit(TimeUnit.SECONDS)
        .setHostnameVerificationAlgorithm("HTTPS").setTrustAll(false);
    if (settings.hubCaFile() != null) {
      netOptions.setTrustOptions(new PemTrustOptions().addCertPath(settings.hubCaFile().toString()));
    }
    net = settings.downloadDirect() ? vertx.createNetClient(netOptions) : null;
    int maxConnections = settings.downloadMaxConnections();
    http = vertx.createHttpClient(clientOptions, new PoolOptions().setHttp1MaxSize(Math.max(maxConnections, 4)));
    meta = vertx.createHttpClient(metaOptions, new PoolOptions().setHttp1MaxSize(5));
    hubs = new HubClient(meta, endpoints, ModelCatalog.DEFAULT_HUB, settings.hfToken(), 30_000);
    files = new HubFiles(vertx, http, net, hubs);
    throttle = new Throttle(settings.downloadMaxBytesPerSecond());
    slots = new ConnectionSlots(maxConnections);
    transfers = new Transfers(this);
    log.info("Download stage: cache {}, hubs {}, {} files at once, {} connections per file, {} in all",
        cache.root, endpoints.keySet(), settings.downloadParallelFiles(), settings.downloadConnectionsPerFile(), maxConnections);
    EventBus bus = vertx.eventBus();
    consumers.add(bus.<JsonObject>localConsumer(DOWNLOAD_START, this::start));
    consumers.add(bus.<JsonObject>localConsumer(DOWNLOAD_CANCEL, this::cancel));
    consumers.add(bus.<JsonObject>localConsumer(DOWNLOAD_CACHED, this::cached));
    consumers.add(bus.<JsonObject>localConsumer(PING_PREFIX + VERTICLE_DOWNLOAD,
        m -> m.reply(new JsonObject().put(VERTICLE, VERTICLE_DOWNLOAD))));
    return Future.all(consumers.stream().map(MessageConsumer::completion).toList());
  }

  private void start(Message<JsonObject> msg) {
    JsonObject body = msg.body();
    String opId = body.getString(OPERATION_ID);
    int attempt = body.getInteger(ATTEMPT, 1);
    String hub = body.getString(HUB, ModelCatalog.DEFAULT_HUB);
    ModelRef ref;
    DownloadOptions options;
    try {
      if (opId == null) {
        throw new HoistException(ErrorCode.BAD_REQUEST, "operation_id is required");
      }
      ref = ModelRef.of(body.getString(REPO, ""), body.getString(REVISION, "main"));
      hubs.endpoint(hub);
      options = DownloadOptions.from(body.getJsonObject(OPTIONS));
    } catch (RuntimeException e) {
      Failures.reply(msg, e);
      return;
    }
    msg.reply(new JsonObject().put(ACCEPTED, true));
    DownloadJob earlier = jobs.remove(opId);
    if (earlier != null) {
      earlier.cancel(new HoistException(ErrorCode.CANCELLED, "superseded by attempt " + attempt));
    }
    StageReporter reporter = new StageReporter(vertx, opId, attempt, "initializing", settings.progressIntervalMs());
    DownloadJob job = new DownloadJob(this, reporter, ref.repo, ref.revision, hub, options);
    jobs.put(opId, job);
    job.run().onComplete(ar -> {
      jobs.remove(opId, job);
      if (job.isCancelled()) {
        return; // cancelled, superseded or shutting down: the registry has moved on, and no report follows
      }
      if (ar.succeeded()) {
        reporter.completed(ar.result(), job.finalFields());
      } else {
        HoistException error = Failures.toHoist(ar.cause());
        HoistException shown = new HoistException(error.code(), redactor.scrub(error.getMessage()), error.retryable(), null);
        if (error.code() == ErrorCode.INTERNAL) {
          log.error("Download for operation {} failed: {}", opId, shown.getMessage(), redacted(ar.cause()));
        }
        reporter.failed(shown);
      }
    });
  }

  /** {@code hoist.download.cancel}: stops the operation's download now; its partial files stay for later. */
  private void cancel(Message<JsonObject> msg) {
    String opId = msg.body() == null ? null : msg.body().getString(OPERATION_ID);
    DownloadJob job = opId == null ? null : jobs.remove(opId);
    if (job != null) {
      job.cancel(new HoistException(ErrorCode.CANCELLED, "the download was cancelled"));
      log.info("Download for operation {} cancelled", opId);
    }
    msg.reply(new JsonObject().put(CANCELLED, job != null));
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

  /** The failure with the token masked in its message, keeping its stack for the log. */
  private Throwable redacted(Throwable err) {
    RuntimeException copy = new RuntimeException(err.getClass().getName() + ": " + redactor.scrub(HubClient.describe(err)));
    copy.setStackTrace(err.getStackTrace());
    return copy;
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

  HubFiles files() {
    return files;
  }

  Throttle throttle() {
    return throttle;
  }

  ConnectionSlots slots() {
    return slots;
  }

  Transfers transfers() {
    return transfers;
  }

  Redactor redactor() {
    return redactor;
  }

  HoistConfig settings() {
    return settings;
  }

  /**
   * Stops every transfer first, so each saves its ranged state and releases its blob lock (a restart
   * on the same cache then resumes instead of starting over), then closes the clients.
   */
  @Override
  public Future<?> stop() {
    HoistException stopping = new HoistException(ErrorCode.SERVICE_UNAVAILABLE, "the download stage is stopping");
    new ArrayList<>(jobs.values()).forEach(job -> job.cancel(stopping));
    jobs.clear();
    return Future.all(consumers.stream().map(MessageConsumer::unregister).toList()).otherwiseEmpty()
        .compose(v -> transfers.abortAll(stopping).timeout(STOP_GRACE_MS, TimeUnit.MILLISECONDS).otherwiseEmpty())
        .compose(v -> {
          return Future.join(meta.close(), http.close(), net != null ? net.close() : Future.succeededFuture());
        });
  }
}
