import { filterSamplePoints, type IndexingConfig } from "../config.js";
import { seededRandom } from "../random.js";

/** How a search was answered, for tests and the benchmark. */
export type SearchPlan = "exact" | "filtered-exact" | "graph" | "filtered-graph";

/** Seed of every collection's sampler, so that plans are reproducible. */
const samplerSeed = 0x2545f491;

/** What the plan of one search depends on. */
export interface PlanInput {
  /** The collection has a graph (not dot) holding at least one node. */
  graphUsable: boolean;
  /** The query asked for an exact scan. */
  exact: boolean;
  liveCount: number;
  /** Live points written but not linked into the graph yet (scored exactly on the graph plans). */
  pendingCount: number;
  /** The query's filter as a slot predicate; undefined without a filter. */
  accept: ((slot: number) => boolean) | undefined;
}

/**
 * Chooses how each search of one collection runs:
 * - exact scan when `exact` is asked, the collection has no usable graph (dot product: HNSW needs a
 *   metric; or nothing linked yet), it has at most `fullScanPointsMax` live points linked, or at least
 *   half of its live points are still pending (a graph plan scores those exactly on top of the walk,
 *   which would then cost more than one scan of everything);
 * - with a filter: the number of matching points is estimated from {@link filterSamplePoints} sampled
 *   points; at most `filteredScanPointsMax` → score exactly the points that match; otherwise walk the
 *   graph with the filter applied during the walk;
 * - otherwise the graph.
 */
export class SearchPlanner {
  private readonly random = seededRandom(samplerSeed);

  /**
   * @param live the collection's live mask (read through the function: the array grows).
   */
  constructor(
    private readonly indexing: Readonly<IndexingConfig>,
    private readonly live: () => { mask: Uint8Array; slotCount: number },
  ) {}

  plan(input: PlanInput): SearchPlan {
    const linked = input.liveCount - input.pendingCount;
    if (!input.graphUsable || input.exact || linked <= this.indexing.fullScanPointsMax || 2 * input.pendingCount >= input.liveCount) return "exact";
    if (input.accept === undefined) return "graph";
    return this.estimateMatches(input.accept, input.liveCount) <= this.indexing.filteredScanPointsMax ? "filtered-exact" : "filtered-graph";
  }

  /**
   * Estimated number of live points passing `accept`: the share of up to {@link filterSamplePoints} live
   * slots drawn at random (seeded, so plans are reproducible) times the live count.
   */
  estimateMatches(accept: (slot: number) => boolean, liveCount: number): number {
    const { mask, slotCount } = this.live();
    const samples = Math.min(filterSamplePoints, liveCount);
    let drawn = 0;
    let matched = 0;
    // Bounded tries: after mass deletes most slots may be free until new points reuse them.
    for (let tries = 0; drawn < samples && tries < samples * 8; tries++) {
      const slot = Math.floor(this.random() * slotCount);
      if (mask[slot] !== 1) continue;
      drawn++;
      if (accept(slot)) matched++;
    }
    return drawn === 0 ? 0 : (matched / drawn) * liveCount;
  }
}
