package dev.hoist.registry;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** The rate shown for a transfer: no figure from a few milliseconds of history, then bytes over time up to now. */
class RateWindowTest {

  private static final long MS = 1_000_000L;

  @Test
  void aBurstInTheFirstMillisecondsIsNotARate() {
    RateWindow w = new RateWindow(5_000);
    w.add(0, 0);
    w.add(5 * MS, 64 << 10); // one read of 64 KiB, 5 ms in: "13 MB/s" would be a lie
    assertThat(w.rate(5 * MS)).isZero();
    assertThat(w.rate(499 * MS)).isZero();
    w.add(1_000 * MS, 1 << 20);
    assertThat(w.rate(1_000 * MS)).isEqualTo((1 << 20) / 1.0);
  }

  @Test
  void aStalledTransferShowsAFallingRateAndARestartStartsOver() {
    RateWindow w = new RateWindow(5_000);
    w.add(0, 0);
    w.add(1_000 * MS, 1_000_000);
    assertThat(w.rate(1_000 * MS)).isEqualTo(1_000_000.0);
    assertThat(w.rate(2_000 * MS)).isEqualTo(500_000.0);
    w.add(2_500 * MS, 10); // the file started over
    assertThat(w.rate(2_600 * MS)).isZero();
  }
}
