export { HnswIndex, type HnswIndexOptions, type HnswHits, type QuantizedSearch } from "./hnsw-index.js";
export { GraphBuilderPool, BuildChannel, builderThreadsMax } from "./builder-pool.js";
