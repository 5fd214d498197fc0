export { HnswIndex, type HnswIndexOptions, type HnswHits } from "./hnsw-index.js";
export { DistanceHeap } from "./heap.js";
