package dev.hoist.load;

import static dev.hoist.contract.EventBusContract.*;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.hoist.HoistConfig;
import dev.hoist.format.DataSource;
import dev.hoist.format.SafetensorsDtype;
import dev.hoist.format.SafetensorsWriter;
import dev.hoist.support.TestSupport;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The embedding API: a loaded model's tensors, read in place through {@link LoadedModels}. */
class LoadedModelsTest {

  @TempDir
  Path dir;

  @Test
  void aLoadedModelsTensorBytesAreTheFilesBytesAtTheTensorsOffsets() throws Exception {
    Path tiny = TestSupport.sharedMirror().resolve("hoist/demo-tiny");
    List<Path> files;
    try (Stream<Path> list = Files.list(tiny)) {
      files = list.sorted().toList();
    }
    Path weights = tiny.resolve("model.safetensors");
    try (LoadStage stage = LoadStage.deploy(new JsonObject().put(HoistConfig.PROGRESS_INTERVAL_MS, 50))) {
      assertThat(LoadedModels.get(stage.vertx, "hoist/demo-tiny")).isEmpty();
      String op = stage.start("hoist/demo-tiny", files, null);
      JsonObject summary = stage.awaitCompleted(op);

      LoadedModel model = LoadedModels.get(stage.vertx, "hoist/demo-tiny").orElseThrow();
      assertThat(LoadedModels.get(stage.vertx, model.key())).contains(model);
      assertThat(model.format()).isEqualTo("safetensors");
      assertThat(model.isNative()).isFalse();
      assertThat(model.tensors()).hasSize(summary.getInteger("tensors"));
      assertThat(model.tensors().stream().mapToLong(TensorView::elements).sum()).isEqualTo(summary.getLong("parameters"));

      compareWithFile(model, weights);

      TensorView norm = model.tensor("model.norm.weight").orElseThrow();
      assertThat(norm.shape()).hasSize(1);
      ByteBuffer data = norm.data();
      assertThat(data.isReadOnly()).isTrue();
      assertThat(data.order()).isEqualTo(ByteOrder.LITTLE_ENDIAN);
      assertThat(data.remaining()).isEqualTo(norm.byteLength());
      data = null;

      JsonObject unloaded = stage.request(LOAD_UNLOAD, new JsonObject().put(REPO, "hoist/demo-tiny"));
      assertThat(unloaded.getJsonArray(UNLOADED)).isEqualTo(new JsonArray().add(model.key()));
      assertThat(LoadedModels.get(stage.vertx, "hoist/demo-tiny")).isEmpty();
      assertThat(model.isReleased()).isTrue();
      assertThatThrownBy(norm::data).isInstanceOf(IllegalStateException.class).hasMessageContaining("unloaded");

      // Views went out, so the mapping was left to the garbage collector: once they are garbage,
      // it unmaps the file.
      long end = System.nanoTime() + Duration.ofSeconds(15).toNanos();
      while (LoadStage.mapped(weights) && System.nanoTime() < end) {
        System.gc();
        Thread.sleep(50);
      }
      assertThat(LoadStage.mapped(weights)).as("mapped after unload and GC").isFalse();
    }
  }

  /** Every tensor's view equals the file's bytes at its offset (the views are dropped on return). */
  private static void compareWithFile(LoadedModel model, Path weights) throws IOException {
    try (FileChannel channel = FileChannel.open(weights, StandardOpenOption.READ)) {
      for (TensorView t : model.tensors()) {
        ByteBuffer expected = ByteBuffer.allocate(Math.toIntExact(t.byteLength()));
        channel.read(expected, t.fileOffset());
        expected.flip();
        assertThat(t.data()).as(t.name()).isEqualTo(expected);
      }
    }
  }

  @Test
  void aTensorLargerThanAMappingIsReadInChunksAndOthersAsOneView() throws Exception {
    Path f = dir.resolve("model.safetensors");
    new SafetensorsWriter()
        .tensor("small", SafetensorsDtype.F32, 100)          // 400 B
        .tensor("big", SafetensorsDtype.F32, 3000)           // 12,000 B: more than a mapping holds here
        .tensor("after", SafetensorsDtype.F16, 500)          // 1,000 B
        .write(f, DataSource.random(3));
    JsonArray files = new JsonArray().add(new JsonObject().put(PATH, "model.safetensors").put(SIZE, Files.size(f))
        .put(LOCAL_PATH, f.toString()));
    ModelInspector.Plan plan = ModelInspector.inspect(files);
    ModelInspector.Region region = plan.regions.get(0);
    // Mappings of 4 KiB at most (soft) / 8 KiB (hard) stand in for 1 GiB / 2 GiB.
    List<Mapping> mappings = new ArrayList<>();
    try (FileChannel channel = FileChannel.open(f, StandardOpenOption.READ)) {
      for (MappingPlan.Chunk c : MappingPlan.chunks(region.offset, region.offset + region.length, region.tensors, 4096, 8192)) {
        MappedByteBuffer b = channel.map(FileChannel.MapMode.READ_ONLY, c.offset(), c.length());
        mappings.add(new Mapping(region.name, c.offset(), b));
      }
    }
    assertThat(mappings).hasSizeGreaterThan(3);
    LoadedModel model = new LoadedModel(ResidentModel.mapped("t/m@c", "t/m", "c", plan, mappings, new JsonObject()));
    byte[] file = Files.readAllBytes(f);
    for (TensorView t : model.tensors()) {
      byte[] expected = java.util.Arrays.copyOfRange(file, (int) t.fileOffset(), (int) (t.fileOffset() + t.byteLength()));
      ByteBuffer joined = ByteBuffer.allocate(expected.length);
      t.chunks().forEach(joined::put);
      assertThat(joined.array()).as(t.name()).isEqualTo(expected);
      if (t.name().equals("big")) {
        assertThat(t.chunks()).hasSizeGreaterThan(1);
        assertThatThrownBy(t::data).isInstanceOf(IllegalStateException.class).hasMessageContaining("chunks()");
      } else {
        assertThat(t.chunks()).hasSize(1);
        assertThat(t.data()).isEqualTo(ByteBuffer.wrap(expected));
      }
    }
  }
}
