package dev.hoist.load;

import static dev.hoist.contract.EventBusContract.*;

import dev.hoist.HoistConfig;
import dev.hoist.contract.ErrorCode;
import dev.hoist.contract.Failures;
import dev.hoist.contract.HoistException;
import dev.hoist.contract.StageReporter;
import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import io.vertx.core.WorkerExecutor;
import io.vertx.core.eventbus.EventBus;
import io.vertx.core.eventbus.Message;
import io.vertx.core.eventbus.MessageConsumer;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The load stage: validates a downloaded model and brings its tensor data into memory, reporting
 * progress from the bytes paged in. Keeps the models it loaded resident until unloaded.
 */
public class LoadVerticle extends VerticleBase {

  private static final Logger log = LoggerFactory.getLogger(LoadVerticle.class);

  private final List<MessageConsumer<?>> consumers = new ArrayList<>();
  private final Map<String, ResidentModel> resident = new LinkedHashMap<>();
  private HoistConfig settings;
  private WorkerExecutor pager;

  @Override
  public Future<?> start() {
    settings = new HoistConfig(config()).validate();
    pager = vertx.createSharedWorkerExecutor("hoist-load-pager", 2);
    EventBus bus = vertx.eventBus();
    consumers.add(bus.<JsonObject>consumer(LOAD_START, this::start));
    consumers.add(bus.<JsonObject>consumer(LOAD_RESIDENT, this::listResident));
    consumers.add(bus.<JsonObject>consumer(PING_PREFIX + VERTICLE_LOAD,
        m -> m.reply(new JsonObject().put(VERTICLE, VERTICLE_LOAD))));
    return Future.all(consumers.stream().map(MessageConsumer::completion).toList());
  }

  private void start(Message<JsonObject> msg) {
    JsonObject command = msg.body();
    String opId = command.getString(OPERATION_ID);
    if (opId == null || command.getString(MODEL_KEY) == null || command.getJsonArray(FILES) == null) {
      Failures.reply(msg, new HoistException(ErrorCode.BAD_REQUEST, "operation_id, model_key and files are required"));
      return;
    }
    msg.reply(new JsonObject().put(ACCEPTED, true));
    StageReporter reporter = new StageReporter(vertx, opId, command.getInteger(ATTEMPT, 1), "loading", settings.progressIntervalMs());
    new LoadJob(this, reporter, command, pager).run().onComplete(ar -> {
      if (ar.succeeded()) {
        reporter.completed(ar.result(), new JsonObject());
      } else {
        HoistException error = Failures.toHoist(ar.cause());
        if (error.code() == ErrorCode.INTERNAL) {
          log.error("Load for operation {} failed", opId, ar.cause());
        }
        reporter.failed(error);
      }
    });
  }

  private void listResident(Message<JsonObject> msg) {
    JsonArray models = new JsonArray();
    resident.values().forEach(m -> models.add(m.toJson()));
    msg.reply(new JsonObject().put(MODELS, models));
  }

  ResidentModel resident(String key) {
    return resident.get(key);
  }

  void register(ResidentModel model) {
    resident.put(model.key, model);
    log.info("Model {} resident: {} bytes", model.key, model.bytes);
  }

  HoistConfig settings() {
    return settings;
  }

  @Override
  public Future<?> stop() {
    resident.clear();
    return Future.all(consumers.stream().map(MessageConsumer::unregister).toList()).compose(v -> pager.close());
  }
}
