export { HnswIndex, type HnswIndexOptions, type HnswHits } from "./hnsw-index.js";
export { GraphBuilderPool, BuildChannel, builderThreadsMax } from "./builder-pool.js";
