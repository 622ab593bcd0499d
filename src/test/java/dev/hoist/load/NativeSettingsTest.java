package dev.hoist.load;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.hoist.HoistConfig;
import dev.hoist.contract.HoistException;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Command templates, the native settings' defaults, and the output throttle: no processes. */
class NativeSettingsTest {

  @Test
  void aTemplateIsSplitLikeAShellWouldButPlaceholdersNeverSplitOrExpand() {
    List<String> tokens = CommandTemplate.tokenize("llama-server -m {path} --alias 'my model' --x \"a \\\"b\\\"\" c\\ d ''");
    assertThat(tokens).containsExactly("llama-server", "-m", "{path}", "--alias", "my model", "--x", "a \"b\"", "c d", "");
    Map<String, String> values = Map.of("{path}", "/models/a b;rm -rf ~/{port}", "{port}", "8080");
    assertThat(CommandTemplate.expand(tokens, values).get(2)).isEqualTo("/models/a b;rm -rf ~/{port}");
    assertThat(CommandTemplate.fill("--port={port} {unknown}", values)).isEqualTo("--port=8080 {unknown}");
    assertThatThrownBy(() -> CommandTemplate.tokenize("run 'oops")).isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void settingsComeFromTheModelThenTheGlobalConfiguration() {
    HoistConfig none = new HoistConfig(new JsonObject());
    assertThat(NativeSettings.resolve(null, none)).isNull();

    NativeSettings perModel = NativeSettings.resolve(new JsonObject().put("command", new JsonArray().add("srv").add("{path}"))
        .put("ready_pattern", "ready").put("timeout_seconds", 7), none);
    assertThat(perModel.command).containsExactly("srv", "{path}");
    assertThat(perModel.healthUrl).isNull();
    assertThat(perModel.timeoutSeconds(1, none)).isEqualTo(7);

    HoistConfig sting = new HoistConfig(new JsonObject().put(HoistConfig.STING_LLM_SCRIPT, "/opt/sting llm/sting-llm")
        .put(HoistConfig.NATIVE_LLM_URL, "http://127.0.0.1:8086/"));
    NativeSettings global = NativeSettings.resolve(null, sting);
    assertThat(global.command).containsExactly("/opt/sting llm/sting-llm", "load", "{model}");
    assertThat(global.healthUrl).isEqualTo("http://127.0.0.1:8086/health");
    assertThat(global.fixedPort).isEqualTo(8086);

    HoistConfig command = new HoistConfig(new JsonObject().put(HoistConfig.NATIVE_COMMAND, "llama-server -m {path} --port {port}"));
    NativeSettings byCommand = NativeSettings.resolve(new JsonObject(), command);
    assertThat(byCommand.command).containsExactly("llama-server", "-m", "{path}", "--port", "{port}");
    assertThat(byCommand.healthUrl).isEqualTo("http://127.0.0.1:{port}/health");
    // the seed's timeouts by size
    assertThat(byCommand.timeoutSeconds(NativeSettings.GB, command)).isEqualTo(300);
    assertThat(byCommand.timeoutSeconds(5 * NativeSettings.GB, command)).isEqualTo(900);
    assertThat(byCommand.timeoutSeconds(9 * NativeSettings.GB, command)).isEqualTo(1800);

    assertThatThrownBy(() -> NativeSettings.resolve(new JsonObject(), none)).isInstanceOf(HoistException.class)
        .hasMessageContaining("no command is configured");
    assertThatThrownBy(() -> NativeSettings.resolve(new JsonObject().put("command", "x").put("ready_pattern", "("), none))
        .hasMessageContaining("ready_pattern");
  }

  @Test
  void theDefaultProgressPatternReadsAServicesPercentage() {
    NativeSettings s = NativeSettings.resolve(new JsonObject().put("command", "x"), new HoistConfig(new JsonObject()));
    var m = s.progressPattern.matcher("llama_model_load: loading 42.5% done");
    assertThat(m.find()).isTrue();
    assertThat(m.group(1)).isEqualTo("42.5");
    assertThat(s.progressPattern.matcher("read 1048576 of 2097152 bytes").find()).isFalse();
  }

  @Test
  void chattyOutputIsThrottledButTheLastLinesAlwaysArrive() {
    List<String> logged = new ArrayList<>();
    OutputLog log = new OutputLog((text, stderr) -> logged.add(text), 10, 0.001);
    log.accept("error: out of memory", true);
    for (int i = 1; i < 1000; i++) {
      log.accept("line " + i, false);
    }
    assertThat(logged).hasSize(10);
    log.flush(false); // no tokens: nothing yet
    assertThat(logged).hasSize(10);
    log.flush(true);
    assertThat(logged.get(10)).isEqualTo("… 985 more line(s) of output not shown");
    assertThat(logged.subList(11, 16)).containsExactly("line 995", "line 996", "line 997", "line 998", "line 999");
    assertThat(log.tail()).containsExactly("line 995", "line 996", "line 997", "line 998", "line 999");
    assertThat(log.olderErrors()).containsExactly("error: out of memory"); // stderr is kept apart for failures
  }
}
