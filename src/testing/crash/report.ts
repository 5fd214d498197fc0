import { RpcError } from "../../client/index.js";
import type { ViolationLog } from "./judge.js";
import type { CrashTestSummary, RoundReport } from "./types.js";
import type { RoundState } from "./workload.js";

/** `text`, cut to `max` characters with an ellipsis. */
export function clip(text: string, max = 160): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/** An error as one line: `STATUS: details` for a failed call. */
export function describeError(error: unknown): string {
  return error instanceof RpcError ? `${error.statusName}: ${error.details}` : error instanceof Error ? error.message : String(error);
}

export function makeReport(
  restarted: boolean,
  round: number,
  roundSeed: number,
  killAfterMs: number,
  state: RoundState,
  inFlightAtKill: number,
  check: { checked: number; expectedPresent: number; expectedAbsent: number; uncertainIds: number; foundPresent: number } | undefined,
  recoveryKills: number,
  restartMs: number,
  violations: ViolationLog,
  roundStarted: number,
): RoundReport {
  return {
    round,
    roundSeed,
    killAfterMs,
    restarted,
    acked: state.acked,
    inFlightAtKill,
    firstAckMs: state.firstAckMs,
    uncertainIds: check?.uncertainIds ?? 0,
    checked: check?.checked ?? 0,
    expectedPresent: check?.expectedPresent ?? 0,
    expectedAbsent: check?.expectedAbsent ?? 0,
    foundPresent: check?.foundPresent ?? 0,
    recoveryKills,
    restartMs,
    violationCount: violations.count,
    violationsByKind: violations.byKind,
    violations: violations.samples,
    unexpectedErrors: state.unexpectedErrors,
    durationMs: Date.now() - roundStarted,
  };
}

/** One line per round: acknowledged operations, what was checked, and the violations by kind. */
export function formatRound(report: RoundReport, rounds: number): string {
  const { acked } = report;
  const ops = acked.upserts + acked.ingests + acked.deletesById + acked.deletesByFilter;
  const label = report.round > rounds ? "final (SIGTERM, restart)" : `round ${report.round}/${rounds}`;
  const kill = report.round > rounds ? "" : ` ${report.restarted ? "kill" : "stop"}@${report.killAfterMs}ms`;
  const restart = report.restarted ? `; restart ${report.restartMs} ms${report.recoveryKills > 0 ? ` after ${report.recoveryKills} kill(s) during recovery` : ""}` : "; no restart (control run)";
  const kinds = Object.entries(report.violationsByKind)
    .map(([kind, count]) => `${kind} ${count}`)
    .join(", ");
  const verdict = report.violationCount === 0 ? "ok" : `${report.violationCount} VIOLATIONS (${kinds})`;
  const errors = report.unexpectedErrors.length === 0 ? "" : `, ${report.unexpectedErrors.length} UNEXPECTED ERRORS`;
  return (
    `${label} seed=0x${report.roundSeed.toString(16).padStart(8, "0")}${kill}: ` +
    `acked ${ops} ops (${acked.upserts} upsert, ${acked.ingests} ingest, ${acked.deletesById} delete-ids, ${acked.deletesByFilter} delete-filter; ` +
    `${acked.pointsWritten} points written, ${acked.pointsDeleted} deleted${report.firstAckMs === undefined ? "" : `, first after ${report.firstAckMs} ms`}), ${report.inFlightAtKill} in flight; ` +
    `checked ${report.checked} ids (${report.expectedPresent} present, ${report.expectedAbsent} absent, ${report.uncertainIds} uncertain; found ${report.foundPresent})` +
    `${restart}: ${verdict}${errors}`
  );
}

/** The sample violations and unexpected errors of a round, one per line, indented. */
export function formatDetails(report: RoundReport, max = 10): string[] {
  const lines = report.violations.slice(0, max).map((v) => `    ${v.kind} ${JSON.stringify(v.id)}: expected ${v.expected}; found ${v.found}`);
  if (report.violationCount > lines.length) lines.push(`    … ${report.violationCount - lines.length} more`);
  for (const error of report.unexpectedErrors.slice(0, max)) lines.push(`    error: ${clip(error, 600)}`);
  return lines;
}

/** The closing summary: seed, rounds, acknowledged operations, violations, and how to reproduce. */
export function formatSummary(summary: CrashTestSummary): string {
  const failed = summary.reports.filter((report) => report.violationCount > 0 || report.unexpectedErrors.length > 0);
  const lines = [
    `crash test: seed ${summary.seed} (0x${summary.seed.toString(16)}), ${summary.reports.filter((r) => r.round <= summary.rounds).length}/${summary.rounds} rounds` +
      `${summary.reports.some((r) => r.round > summary.rounds) ? " + final clean restart" : ""} in ${(summary.durationMs / 1000).toFixed(1)} s; ` +
      `${summary.ackedOps} acknowledged operations; ${summary.violationCount} violations, ${summary.unexpectedErrorCount} unexpected errors` +
      `${failed.length > 0 ? ` in rounds ${failed.map((r) => (r.round > summary.rounds ? "final" : String(r.round))).join(", ")}` : ""}`,
  ];
  if (summary.incomplete) lines.push(`incomplete: ${summary.error ?? "stopped early"}`);
  if (failed.length > 0) {
    const control = summary.reports.some((r) => !r.restarted) ? " --control" : "";
    lines.push(`reproduce with: npm run crash-test -- --seed ${summary.seed} --rounds ${Math.max(...failed.map((r) => Math.min(r.round, summary.rounds)))}${control}`);
  }
  return lines.join("\n");
}
