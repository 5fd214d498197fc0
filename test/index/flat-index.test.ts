import { describe, expect, it } from "vitest";
import { FlatIndex, TopK, dotAt, l2SquaredAt, type DistanceKind } from "../../src/index/index.js";
import { rng } from "../helpers/random.js";


function randomVector(dimension: number, random: () => number): Float32Array {
  return Float32Array.from({ length: dimension }, () => random() * 2 - 1);
}

/** The oracle: score every vector in float64 and fully sort. */
function bruteForce(vectors: Float32Array[], query: Float32Array, k: number, kind: DistanceKind): number[] {
  const normalise = (v: Float32Array) => {
    const n = Math.hypot(...v);
    return Array.from(v, (x) => x / n);
  };
  const q = kind === "cosine" ? normalise(query) : Array.from(query);
  const scored = vectors.map((v, slot) => {
    const x = kind === "cosine" ? normalise(v) : Array.from(v);
    const d = kind === "euclidean" ? x.reduce((s, xi, i) => s + (xi - q[i]!) ** 2, 0) : -x.reduce((s, xi, i) => s + xi * q[i]!, 0);
    return { slot, d };
  });
  scored.sort((a, b) => a.d - b.d || a.slot - b.slot);
  return scored.slice(0, k).map((s) => s.slot);
}

describe("distance kernels", () => {
  it("match a plain float64 computation for every length (unrolled loop and tail)", () => {
    const random = rng(1);
    for (let dimension = 1; dimension <= 19; dimension++) {
      const a = randomVector(dimension, random);
      const b = randomVector(dimension, random);
      const dot = Array.from(a).reduce((s, x, i) => s + x * b[i]!, 0);
      const l2 = Array.from(a).reduce((s, x, i) => s + (x - b[i]!) ** 2, 0);
      expect(dotAt(a, 0, b, 0, dimension)).toBeCloseTo(dot, 10);
      expect(l2SquaredAt(a, 0, b, 0, dimension)).toBeCloseTo(l2, 10);
    }
  });
});

describe("TopK", () => {
  it("keeps the k smallest of a stream, sorted, ties by slot", () => {
    const random = rng(2);
    const values = Array.from({ length: 1000 }, () => Math.floor(random() * 100));
    const top = new TopK(25);
    values.forEach((v, slot) => top.push(v, slot));
    const { distances, slots } = top.drainSorted();
    const expected = values.map((d, slot) => ({ d, slot })).sort((a, b) => a.d - b.d || a.slot - b.slot).slice(0, 25);
    expect(Array.from(distances)).toEqual(expected.map((e) => e.d));
    expect(Array.from(slots)).toEqual(expected.map((e) => e.slot));
  });

  it("rejects a capacity below 1", () => {
    expect(() => new TopK(0)).toThrow(RangeError);
  });
});

describe("FlatIndex", () => {
  it.each(["euclidean", "cosine", "dot"] as const)("returns the exact top-k for %s, through growth and swap-removal", (kind) => {
    const random = rng(3);
    const dimension = 13;
    const index = new FlatIndex(dimension, kind, 4);
    let vectors: Float32Array[] = [];
    for (let i = 0; i < 500; i++) {
      const v = randomVector(dimension, random);
      vectors.push(v);
      expect(index.add(v)).toBe(i);
    }
    // Remove 100 random slots the way the collection does: the last row moves into the hole.
    for (let i = 0; i < 100; i++) {
      const slot = Math.floor(random() * vectors.length);
      const moved = index.removeSwap(slot);
      const last = vectors.pop()!;
      if (moved >= 0) vectors[slot] = last;
      else expect(slot).toBe(vectors.length);
    }
    expect(index.size).toBe(400);
    for (let q = 0; q < 20; q++) {
      const query = randomVector(dimension, random);
      const { slots } = index.search(query, 10);
      expect(Array.from(slots)).toEqual(bruteForce(vectors, query, 10, kind));
    }
  });

  it("applies accept and maxDistance", () => {
    const index = new FlatIndex(1, "euclidean");
    for (let i = 0; i < 10; i++) index.add(Float32Array.of(i));
    const odd = index.search(Float32Array.of(0), 3, { accept: (slot) => slot % 2 === 1 });
    expect(Array.from(odd.slots)).toEqual([1, 3, 5]);
    const near = index.search(Float32Array.of(0), 10, { maxDistance: 4 });
    expect(Array.from(near.slots)).toEqual([0, 1, 2]);
  });

  it("stores cosine vectors normalised and rejects a wrong length", () => {
    const index = new FlatIndex(2, "cosine");
    index.add(Float32Array.of(3, 4));
    expect(Array.from(index.vectorAt(0))).toEqual([expect.closeTo(0.6, 6), expect.closeTo(0.8, 6)]);
    expect(() => index.add(Float32Array.of(1))).toThrow(/1 components, the index's dimension is 2/);
    expect(() => index.vectorAt(1)).toThrow(RangeError);
  });
});
