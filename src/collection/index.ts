export { Collection, type CollectionLimits } from "./collection.js";
export { matchesFilter, matchesCondition } from "./filter.js";
export type * from "./types.js";
