package dev.hoist.contract;

import java.util.Locale;

/** The states of an operation, in the order a successful one passes them. */
public enum OperationStatus {
  /** Waiting for a free slot; not started. */
  QUEUED(0, 0),
  INITIALIZING(0, 5),
  DOWNLOADING(10, 60),
  LOADING(60, 85),
  FINALIZING(85, 95),
  COMPLETED(100, 100),
  ERROR(0, 100),
  CANCELLED(0, 100);

  /** The band of {@code progress} this state covers, from the seed's stages. */
  public final int bandStart;
  public final int bandEnd;

  OperationStatus(int bandStart, int bandEnd) {
    this.bandStart = bandStart;
    this.bandEnd = bandEnd;
  }

  /** The name on the wire: lower case. */
  public String wireName() {
    return name().toLowerCase(Locale.ROOT);
  }

  public boolean isFinished() {
    return this == COMPLETED || this == ERROR || this == CANCELLED;
  }

  /**
   * Where {@code fraction} (0..1) of this state's work lands in the overall progress, rounded down
   * so that 100 is only ever shown for a completed operation.
   */
  public int progressAt(double fraction) {
    double f = Double.isNaN(fraction) ? 0 : Math.max(0, Math.min(1, fraction));
    return bandStart + (int) Math.floor((bandEnd - bandStart) * f);
  }

  public static OperationStatus fromWire(String name) {
    return valueOf(name.toUpperCase(Locale.ROOT));
  }
}
