export { buildProgram, exitCodeOf, addressDefault } from "./program.js";
export { exitCodes, reportError, UsageError } from "./cli-errors.js";
