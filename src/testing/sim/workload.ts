/**
 * What the power-loss simulation does and with what settings: the parameters a seed picks, and the
 * writes of its workload (upserts of 1–4 points with payloads `{g, n}` or none, deletes of 1–3 ids,
 * deletes by the filter `g = v`), over a pool of 40 ids so that writes overwrite and delete each
 * other. Payload updates (a write type of their own) are not in the workload: the data API does not
 * have them yet.
 */
import type { Filter, PointInput } from "../../collection/index.js";
import type { FsyncPolicy } from "../../config.js";
import type { ModelWrite } from "./model.js";

/** Ids are `p0` … `p39`. */
export const idPool = 40;

/** Every id the workload may write. */
export function universe(): string[] {
  return Array.from({ length: idPool }, (_, i) => `p${i}`);
}

/** The parameters a seed picked. */
export interface SeedParameters {
  policy: FsyncPolicy;
  distance: "euclidean" | "dot";
  dimension: number;
  flushIntervalMs: number;
  walBytesMax: number;
  /** Boots ending in a power cut (one more boot follows: clean close, cut, final check). */
  crashes: number;
  stepsPerBoot: number;
  /** Probability of a fault per write or sync (0 on most seeds), and how many at most per boot. */
  faultRate: number;
  faultBudget: number;
}

/** The parameters of a seed, drawn from its random stream (`forced` overrides the policy). */
export function pickParameters(random: () => number, forced: FsyncPolicy | undefined): SeedParameters {
  const pick = <T>(values: readonly T[]): T => values[Math.floor(random() * values.length)]!;
  const faulty = random() < 0.3;
  return {
    policy: forced ?? pick(["fsync", "interval", "os"] as const),
    distance: pick(["euclidean", "dot"] as const),
    dimension: 1 + Math.floor(random() * 6),
    flushIntervalMs: pick([10, 50, 100]),
    walBytesMax: pick([600, 2_000, 8_000, 64 * 1024]),
    crashes: 1 + Math.floor(random() * 3),
    stepsPerBoot: 10 + Math.floor(random() * 50),
    faultRate: faulty ? pick([0.02, 0.05]) : 0,
    faultBudget: faulty ? 1 + Math.floor(random() * 2) : 0,
  };
}

/** The writes of one seed, drawn from its random stream. */
export class Workload {
  private nextPayload = 0;

  constructor(
    private readonly random: () => number,
    private readonly dimension: number,
  ) {}

  /** The next write: 70 % upserts, 20 % deletes by id, 10 % deletes by filter. */
  next(): ModelWrite {
    const r = this.random();
    if (r < 0.7) return { kind: "upsert", points: this.points() };
    if (r < 0.9) {
      const count = 1 + Math.floor(this.random() * 3);
      return { kind: "deleteIds", ids: Array.from({ length: count }, () => `p${Math.floor(this.random() * idPool)}`) };
    }
    const value = Math.floor(this.random() * 5);
    const filter: Filter = { must: [{ kind: "equals", path: ["g"], value }], should: [], mustNot: [] };
    return { kind: "deleteByFilter", filter, describe: `g = ${value}` };
  }

  private points(): PointInput[] {
    const count = 1 + Math.floor(this.random() * 4);
    const ids = new Set<string>();
    while (ids.size < count) ids.add(`p${Math.floor(this.random() * idPool)}`);
    return [...ids].map((id) => ({
      id,
      vector: Float32Array.from({ length: this.dimension }, () => Math.round((this.random() * 2 - 1) * 1000) / 64),
      payload: this.random() < 0.2 ? undefined : { g: Math.floor(this.random() * 5), n: this.nextPayload++ },
    }));
  }
}

/** A write in words, for the history. */
export function describeWrite(write: ModelWrite): string {
  switch (write.kind) {
    case "upsert":
      return `upsert ${write.points.map((p) => `${p.id}${p.payload === undefined ? "" : `{g:${String(p.payload.g)},n:${String(p.payload.n)}}`}`).join(" ")}`;
    case "deleteIds":
      return `delete ${write.ids.join(" ")}`;
    case "deleteByFilter":
      return `delete where ${write.describe}`;
  }
}
