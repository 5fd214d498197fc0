export { HnswIndex, type HnswIndexOptions, type HnswHits, type QuantizedSearch } from "./hnsw-index.js";
export { GraphBuilderPool, BuildChannel, builderThreadsMax, type SearchJob, type SearchJobResult } from "./builder-pool.js";
