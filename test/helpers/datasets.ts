export { datasetFile } from "../../src/testing/index.js";
export { readIvecsFile as readIvecs } from "../../src/datasets/index.js";
