export { type DistanceKind, type DistanceKernel, distanceKinds, isDistanceKind, dotAt, l2SquaredAt, norm, normalizeInPlace, kernelOf, scoreOf, internalThreshold } from "./distance.js";
export { TopK } from "./top-k.js";
export { FlatIndex, scanRows, type FlatSearchOptions, type RowSelection, type SlotHits } from "./flat-index.js";
export {
  HnswIndex,
  GraphBuilderPool,
  BuildChannel,
  builderThreadsMax,
  type HnswIndexOptions,
  type HnswHits,
  type QuantizedSearch,
  type SearchJob,
  type SearchJobResult,
} from "./hnsw/index.js";
export { VectorStore, batchRowsMax, threadSlotsMax, type GraphLayout, type VectorStoreOptions, type QuantizationRange } from "./vector-store.js";
