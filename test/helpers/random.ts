// The tests' seeded generator is the project's one (mulberry32).
export { seededRandom as rng } from "../../src/random.js";
