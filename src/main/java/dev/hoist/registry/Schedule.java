package dev.hoist.registry;

import com.cronutils.model.Cron;
import com.cronutils.model.CronType;
import com.cronutils.model.definition.CronDefinitionBuilder;
import com.cronutils.model.time.ExecutionTime;
import com.cronutils.parser.CronParser;
import dev.hoist.contract.ErrorCode;
import dev.hoist.contract.HoistException;
import io.vertx.core.json.JsonObject;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZonedDateTime;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;

/**
 * A recurring load: a cron expression (5 fields, Unix; or 6 with seconds first, Spring style) and
 * the request to make when it fires. {@code action} "load" loads the model; "refresh" only brings
 * its files up to date in the cache.
 */
final class Schedule {

  static final Set<String> ACTIONS = Set.of("load", "refresh");
  private static final CronParser UNIX = new CronParser(CronDefinitionBuilder.instanceDefinitionFor(CronType.UNIX));
  private static final CronParser WITH_SECONDS = new CronParser(CronDefinitionBuilder.instanceDefinitionFor(CronType.SPRING53));

  final String id;
  final String cronText;
  final String action;
  /** The load request body (model_name and options) to send when it fires. */
  final JsonObject request;
  final ZoneId zone;
  private final ExecutionTime times;
  Instant nextRun;
  Instant lastRun;
  String lastOperationId;

  private Schedule(String id, String cronText, String action, JsonObject request, ZoneId zone) {
    this.id = id;
    this.cronText = cronText;
    this.action = action;
    this.request = request;
    this.zone = zone;
    this.times = ExecutionTime.forCron(parse(cronText));
  }

  /** Validates a {@code POST /api/llm/schedules} body; the load request inside is checked by the caller. */
  static Schedule create(JsonObject body, ZoneId zone) {
    Object cron = body.getValue("cron");
    if (!(cron instanceof String) || ((String) cron).isBlank() || ((String) cron).length() > 200) {
      throw new HoistException(ErrorCode.BAD_REQUEST, "cron is required: 5 fields (minute hour day month weekday) or 6 with seconds first");
    }
    Object action = body.getValue("action", "load");
    if (!(action instanceof String) || !ACTIONS.contains(action)) {
      throw new HoistException(ErrorCode.BAD_REQUEST, "action must be \"load\" or \"refresh\"");
    }
    JsonObject request = body.copy();
    request.remove("cron");
    request.remove("action");
    Schedule s = new Schedule(UUID.randomUUID().toString(), ((String) cron).trim(), (String) action, request, zone);
    s.nextRun = s.next(Instant.now());
    return s;
  }

  static Cron parse(String text) {
    int fields = text.trim().split("\\s+").length;
    try {
      Cron cron = (fields == 6 ? WITH_SECONDS : UNIX).parse(text.trim());
      return cron.validate();
    } catch (IllegalArgumentException e) {
      throw new HoistException(ErrorCode.BAD_REQUEST, "cron '" + text + "' is not valid: " + e.getMessage());
    }
  }

  Instant next(Instant after) {
    Optional<ZonedDateTime> next = times.nextExecution(ZonedDateTime.ofInstant(after, zone));
    return next.map(ZonedDateTime::toInstant).orElse(null);
  }

  JsonObject toJson() {
    return new JsonObject()
        .put("id", id)
        .put("cron", cronText)
        .put("action", action)
        .put("model_name", request.getString("model_name"))
        .put("request", request.copy())
        .put("time_zone", zone.getId())
        .put("next_run", nextRun == null ? null : nextRun.toString())
        .put("last_run", lastRun == null ? null : lastRun.toString())
        .put("last_operation_id", lastOperationId);
  }

  static Schedule fromJson(JsonObject json) {
    Schedule s = new Schedule(json.getString("id"), json.getString("cron"), json.getString("action", "load"),
        json.getJsonObject("request", new JsonObject()), ZoneId.of(json.getString("time_zone", ZoneId.systemDefault().getId())));
    s.lastRun = json.getString("last_run") == null ? null : Instant.parse(json.getString("last_run"));
    s.lastOperationId = json.getString("last_operation_id");
    s.nextRun = s.next(Instant.now());
    return s;
  }
}
