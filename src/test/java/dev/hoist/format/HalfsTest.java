package dev.hoist.format;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class HalfsTest {

  @Test
  void encodesKnownValues() {
    assertThat(Halfs.toHalf(1f)).isEqualTo((short) 0x3c00);
    assertThat(Halfs.toHalf(-2f)).isEqualTo((short) 0xc000);
    assertThat(Halfs.toHalf(65504f)).isEqualTo((short) 0x7bff);
    assertThat(Halfs.toHalf(70000f)).isEqualTo((short) 0x7c00);
    assertThat(Halfs.toHalf(0x1.0p-24f)).isEqualTo((short) 0x0001);
    assertThat(Halfs.toHalf(1e-9f)).isEqualTo((short) 0);
    assertThat(Halfs.toHalf(1f + 0x1.0p-11f)).isEqualTo((short) 0x3c00); // tie rounds to even
    assertThat(Halfs.toHalf(1f + 0x1.8p-11f)).isEqualTo((short) 0x3c01);
    assertThat(Halfs.toBfloat16(1f)).isEqualTo((short) 0x3f80);
    assertThat(Halfs.toBfloat16(-0.5f)).isEqualTo((short) 0xbf00);
  }

  @Test
  void everyHalfRoundTrips() {
    for (int h = 0; h < 0x10000; h++) {
      float f = Halfs.fromHalf((short) h);
      if (!Float.isNaN(f)) {
        assertThat(Halfs.toHalf(f) & 0xffff).as("half 0x%04x", h).isEqualTo(h);
      }
    }
  }
}
