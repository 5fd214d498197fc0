import type { Clock, RepeatingTimer } from "../../storage/index.js";

interface Timer {
  periodMs: number;
  dueMs: number;
  callback: () => void;
  cancelled: boolean;
  /** Creation order: timers due at the same time fire in this order. */
  order: number;
}

/**
 * Simulated time for the power-loss simulation: a {@link Clock} that moves only when the simulation
 * calls {@link advance}. Timers fire inside `advance`, synchronously, in due-time order (creation
 * order on ties), so a run is a pure function of its seed. A clock can be stopped ({@link stop}: the
 * machine lost power); its timers never fire again.
 */
export class SimClock implements Clock {
  private timeMs: number;
  private readonly timers: Timer[] = [];
  private created = 0;
  private stopped = false;

  /** @param startMs the time `now()` reports first, in ms. */
  constructor(startMs = 0) {
    this.timeMs = startMs;
  }

  now(): number {
    return this.timeMs;
  }

  every(periodMs: number, callback: () => void): RepeatingTimer {
    if (!Number.isInteger(periodMs) || periodMs < 1) throw new RangeError(`timer period must be an integer of at least 1 ms, got ${periodMs}`);
    const timer: Timer = { periodMs, dueMs: this.timeMs + periodMs, callback, cancelled: false, order: this.created++ };
    this.timers.push(timer);
    return {
      cancel: () => {
        timer.cancelled = true;
        const at = this.timers.indexOf(timer);
        if (at >= 0) this.timers.splice(at, 1);
      },
    };
  }

  /** Timers that have not been cancelled. */
  get activeTimers(): number {
    return this.timers.length;
  }

  /**
   * Moves time forward by `ms` (≥ 0), firing every timer that falls due on the way, each at its due
   * time (a timer due several times fires several times). After each callback the event loop turns
   * once (`setImmediate`), so that what the callback started (e.g. a WAL fsync queued behind a promise)
   * begins at the callback's time, not at the end of the advance.
   */
  async advance(ms: number): Promise<void> {
    if (!(ms >= 0)) throw new RangeError(`cannot move time by ${ms} ms`);
    const end = this.timeMs + ms;
    for (;;) {
      if (this.stopped) return;
      let next: Timer | undefined;
      for (const timer of this.timers) {
        if (timer.dueMs > end) continue;
        if (next === undefined || timer.dueMs < next.dueMs || (timer.dueMs === next.dueMs && timer.order < next.order)) next = timer;
      }
      if (next === undefined) break;
      this.timeMs = next.dueMs;
      next.dueMs += next.periodMs;
      next.callback();
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    if (!this.stopped) this.timeMs = end;
  }

  /** The power is gone: no timer fires again and time stands still. */
  stop(): void {
    this.stopped = true;
    this.timers.length = 0;
  }
}
