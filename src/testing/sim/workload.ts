/**
 * What the power-loss simulation does and with what settings: the parameters a seed picks, and the
 * writes of its workload (upserts of 1–4 points with payloads `{g, n}`, `{g, n, m: {x, y}}` or none,
 * deletes of 1–3 ids, deletes by the filter `g = v`, and payload changes — set, overwrite, delete
 * keys (nested ones too), clear — of 1–3 ids or of the points matching `g = v`), over a pool of 40
 * ids so that writes overwrite, change and delete each other; and alias updates (1–2 actions: create,
 * delete, rename) over the aliases `a0` … `a2` of the collection.
 */
import type { Filter, JsonObject, PayloadChange, PointInput, PointSelector } from "../../collection/index.js";
import type { FsyncPolicy } from "../../config.js";
import { type AliasChange, type AliasState, aliasesAfter, type ModelWrite } from "./model.js";

/** Ids are `p0` … `p39`. */
export const idPool = 40;

/** Aliases are `a0` … `a2`. */
const aliasPool = 3;

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
  /** Most points per segment: small bounds make seals and merges (and power cuts inside them) frequent. */
  segmentPointsMax: number;
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
    segmentPointsMax: pick([4, 12, 1_000_000]),
  };
}

/** The writes of one seed, drawn from its random stream. */
export class Workload {
  private nextPayload = 0;

  constructor(
    private readonly random: () => number,
    private readonly dimension: number,
  ) {}

  /** The next write: 55 % upserts, 15 % deletes by id, 8 % deletes by filter, 22 % payload changes. */
  next(): ModelWrite {
    const r = this.random();
    if (r < 0.55) return { kind: "upsert", points: this.points() };
    if (r < 0.7) return { kind: "deleteIds", ids: this.ids() };
    if (r < 0.78) {
      const { filter, describe } = this.groupFilter();
      return { kind: "deleteByFilter", filter, describe };
    }
    return this.payloadChange();
  }

  /** 1–3 ids of the pool, maybe repeated. */
  private ids(): string[] {
    const count = 1 + Math.floor(this.random() * 3);
    return Array.from({ length: count }, () => `p${Math.floor(this.random() * idPool)}`);
  }

  /** The filter `g = v`, v in 0–4. */
  private groupFilter(): { filter: Filter; describe: string } {
    const value = Math.floor(this.random() * 5);
    return { filter: { must: [{ kind: "equals", path: ["g"], value }], should: [], mustNot: [] }, describe: `g = ${value}` };
  }

  /** A payload change of some ids (60 %) or of the points matching `g = v`. */
  private payloadChange(): ModelWrite {
    let selector: PointSelector;
    let chosen: string;
    if (this.random() < 0.6) {
      const ids = this.ids();
      selector = { kind: "ids", ids };
      chosen = ids.join(" ");
    } else {
      const { filter, describe } = this.groupFilter();
      selector = { kind: "filter", filter };
      chosen = `where ${describe}`;
    }
    const change = this.change();
    return { kind: "payload", selector, change, describe: `${describeChange(change)} of ${chosen}` };
  }

  /**
   * The actions of one UpdateAliases call (1–2) on the aliases `current`, every one valid where it
   * stands: create a free alias of `collection`, delete one, rename one to a free name.
   */
  aliasActions(current: AliasState, collection: string): AliasChange[] {
    const count = 1 + Math.floor(this.random() * 2);
    const actions: AliasChange[] = [];
    let state = current;
    for (let i = 0; i < count; i++) {
      const names = Array.from({ length: aliasPool }, (_, k) => `a${k}`);
      const taken = names.filter((name) => state.has(name));
      const free = names.filter((name) => !state.has(name));
      const pick = (from: string[]): string => from[Math.floor(this.random() * from.length)]!;
      const r = this.random();
      let action: AliasChange;
      if (taken.length === 0 || (free.length > 0 && r < 0.45)) action = { kind: "create", alias: pick(free), collection };
      else if (free.length === 0 || r < 0.75) action = { kind: "delete", alias: pick(taken) };
      else action = { kind: "rename", from: pick(taken), to: pick(free) };
      actions.push(action);
      state = aliasesAfter(state, [action]);
    }
    return actions;
  }

  private change(): PayloadChange {
    const r = this.random();
    const value = Math.floor(this.random() * 5);
    if (r < 0.35) {
      const payloads: JsonObject[] = [{ g: value }, { t: this.nextPayload++ }, { m: { x: value } }, { g: value, t: this.nextPayload++ }];
      return { kind: "set", payload: payloads[Math.floor(this.random() * payloads.length)]! };
    }
    if (r < 0.55) return { kind: "overwrite", payload: { g: value, n: this.nextPayload++ } };
    if (r < 0.85) {
      const keys: string[][][] = [[["g"]], [["m", "x"]], [["t"], ["n"]], [["m"]], [["nope", "x"]]];
      return { kind: "deleteKeys", keys: keys[Math.floor(this.random() * keys.length)]! };
    }
    return { kind: "clear" };
  }

  private points(): PointInput[] {
    const count = 1 + Math.floor(this.random() * 4);
    const ids = new Set<string>();
    while (ids.size < count) ids.add(`p${Math.floor(this.random() * idPool)}`);
    return [...ids].map((id) => ({
      id,
      vector: Float32Array.from({ length: this.dimension }, () => Math.round((this.random() * 2 - 1) * 1000) / 64),
      payload: this.payload(),
    }));
  }

  /** None (20 %), `{g, n}` or `{g, n, m: {x, y}}`. */
  private payload(): JsonObject | undefined {
    const r = this.random();
    if (r < 0.2) return undefined;
    const payload: JsonObject = { g: Math.floor(this.random() * 5), n: this.nextPayload++ };
    if (r > 0.7) payload.m = { x: Math.floor(this.random() * 5), y: this.nextPayload++ };
    return payload;
  }
}

function describeChange(change: PayloadChange): string {
  switch (change.kind) {
    case "set":
      return `set ${JSON.stringify(change.payload)}`;
    case "overwrite":
      return `overwrite ${JSON.stringify(change.payload)}`;
    case "deleteKeys":
      return `delete keys ${change.keys.map((path) => path.join(".")).join(", ")}`;
    case "clear":
      return "clear";
  }
}

/** UpdateAliases actions in words, for the history. */
export function describeAliasActions(actions: readonly AliasChange[]): string {
  return actions.map((action) => (action.kind === "create" ? `create ${action.alias}→${action.collection}` : action.kind === "delete" ? `delete ${action.alias}` : `rename ${action.from}→${action.to}`)).join(", ");
}

/** A write in words, for the history. */
export function describeWrite(write: ModelWrite): string {
  switch (write.kind) {
    case "upsert":
      return `upsert ${write.points.map((p) => `${p.id}${p.payload === undefined ? "" : JSON.stringify(p.payload)}`).join(" ")}`;
    case "deleteIds":
      return `delete ${write.ids.join(" ")}`;
    case "deleteByFilter":
      return `delete where ${write.describe}`;
    case "payload":
      return `payload: ${write.describe}`;
  }
}
