import { describe, expect, it } from "vitest";
import { TopK } from "../../src/index/top-k.js";
import { rng } from "../helpers/random.js";

describe("TopK", () => {
  it("keeps the k smallest pairs and drains them by distance, ties by slot, for small and large k", () => {
    const random = rng(7);
    for (const k of [1, 10, 64, 65, 300]) {
      const top = new TopK(k);
      const pairs: [number, number][] = [];
      for (let slot = 0; slot < 2_000; slot++) {
        const distance = Math.floor(random() * 200) / 4; // many ties
        pairs.push([distance, slot]);
        top.push(distance, slot);
      }
      pairs.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
      const kept = pairs.slice(0, k);
      const { distances, slots } = top.drainSorted();
      // The heap keeps any k pairs with the k smallest distances; at the boundary distance, which slots stay is its choice.
      const boundary = kept[k - 1]![0];
      expect(Array.from(distances)).toEqual(kept.map(([distance]) => distance));
      const sortedSlots = Array.from(slots);
      for (let i = 1; i < k; i++) if (distances[i] === distances[i - 1]) expect(sortedSlots[i]!).toBeGreaterThan(sortedSlots[i - 1]!);
      expect(sortedSlots.filter((_, i) => distances[i]! < boundary)).toEqual(kept.filter(([distance]) => distance < boundary).map(([, slot]) => slot));
      expect(top.size).toBe(0);
    }
  });
});
