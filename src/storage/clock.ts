/**
 * Time as the storage and collection code sees it: the `interval` fsync policy's timer and the
 * checkpoint retry delay. Production uses {@link systemClock}; the power-loss simulation uses a
 * simulated clock that it advances itself, so that a run is deterministic and replays exactly.
 */
import type { FileSystem } from "./file-system.js";

/** A repeating timer made by {@link Clock.every}. */
export interface RepeatingTimer {
  /** Stops it; no callback runs afterwards. Idempotent. */
  cancel(): void;
}

/** A source of time and timers. */
export interface Clock {
  /** Milliseconds since an arbitrary origin; never decreases. */
  now(): number;
  /**
   * Calls `callback` every `periodMs` ms (an integer ≥ 1) until cancelled. Does not keep the process
   * alive. A callback that throws is a bug; callbacks catch their own errors.
   */
  every(periodMs: number, callback: () => void): RepeatingTimer;
}

/** Real time: `performance.now()` and unref'd `setInterval`. */
export const systemClock: Clock = Object.freeze({
  now: () => performance.now(),
  every(periodMs: number, callback: () => void): RepeatingTimer {
    const timer = setInterval(callback, periodMs);
    timer.unref();
    return { cancel: () => clearInterval(timer) };
  },
});

/** The seam as the collection and database layers pass it down: the disk and the clock. */
export interface StorageIo {
  fs: FileSystem;
  clock: Clock;
}
