package dev.hoist.load;

import static org.assertj.core.api.Assertions.assertThat;

import dev.hoist.format.TensorInfo;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class MappingPlanTest {

  private static List<TensorInfo> tensors(long start, long... lengths) {
    List<TensorInfo> out = new ArrayList<>();
    long offset = start;
    for (int i = 0; i < lengths.length; i++) {
      out.add(new TensorInfo("t" + i, "U8", new long[] {lengths[i]}, offset, lengths[i], lengths[i]));
      offset += lengths[i];
    }
    return out;
  }

  private static void assertCovers(List<MappingPlan.Chunk> chunks, long start, long end, long hardMax) {
    long at = start;
    for (MappingPlan.Chunk c : chunks) {
      assertThat(c.offset()).isEqualTo(at);
      assertThat(c.length()).isPositive().isLessThanOrEqualTo(hardMax);
      at = c.end();
    }
    assertThat(at).isEqualTo(end);
  }

  @Test
  void cutsAtTensorBoundariesSoEveryTensorLiesInOneMapping() {
    List<TensorInfo> ts = tensors(100, 300, 300, 300, 50, 600, 10);
    List<MappingPlan.Chunk> chunks = MappingPlan.chunks(100, 1660, ts, 700, 2000);
    assertCovers(chunks, 100, 1660, 2000);
    for (TensorInfo t : ts) {
      assertThat(chunks).as(t.name()).anyMatch(c -> c.offset() <= t.offset() && t.end() <= c.end());
    }
    assertThat(chunks).allMatch(c -> c.length() <= 700);
  }

  @Test
  void aTensorOverTheSoftLimitGetsAMappingOfItsOwnAndOneOverTheHardLimitIsSplit() {
    List<TensorInfo> ts = tensors(0, 100, 1500, 100, 5000, 100);
    List<MappingPlan.Chunk> chunks = MappingPlan.chunks(0, 6800, ts, 1000, 2000);
    assertCovers(chunks, 0, 6800, 2000);
    assertThat(chunks).contains(new MappingPlan.Chunk(100, 1500)); // 1500 > soft, <= hard: one view
    TensorInfo huge = ts.get(3);
    assertThat(chunks.stream().filter(c -> c.offset() < huge.end() && c.end() > huge.offset()).count()).isGreaterThan(1);
  }

  @Test
  void paddingAfterTheLastTensorIsMappedToo() {
    List<MappingPlan.Chunk> chunks = MappingPlan.chunks(0, 2500, tensors(0, 100), 1000, 2000);
    assertCovers(chunks, 0, 2500, 1000);
    assertThat(MappingPlan.chunks(0, 0, List.of(), 1000, 2000)).isEmpty();
  }
}
