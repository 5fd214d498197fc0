export { buildProgram, exitCodeOf } from "./program.js";
export { exitCodes, reportError, UsageError } from "./cli-errors.js";
