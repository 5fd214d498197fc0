// The seeded generator of the tests is the crash harness's (mulberry32), so that there is one copy.
export { seededRandom as rng } from "../../bench/crash-harness.js";
