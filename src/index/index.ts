export { type DistanceKind, type DistanceKernel, distanceKinds, isDistanceKind, dotAt, l2SquaredAt, norm, normalizeInPlace, kernelOf, scoreOf, internalThreshold } from "./distance.js";
export { TopK } from "./top-k.js";
export { FlatIndex, scanRows, type FlatSearchOptions, type RowSelection, type SlotHits } from "./flat-index.js";
export { HnswIndex, type HnswIndexOptions, type HnswHits } from "./hnsw/index.js";
export { VectorStore, batchRowsMax } from "./vector-store.js";
