export { runCrashTest } from "./run.js";
export { formatRound, formatDetails, formatSummary } from "./report.js";
export { judgePoint, jsonEqual, describeState } from "./judge.js";
export type * from "./types.js";
export { ServerProcess, startServing } from "./server-process.js";
