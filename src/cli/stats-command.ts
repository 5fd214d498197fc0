import { Command, Option } from "commander";
import { cliDefaults } from "../config.js";
import { action } from "./cli-errors.js";
import { print } from "./client-context.js";

/** One histogram series: cumulative bucket counts by upper bound, and the total. */
interface Histogram {
  buckets: { le: number; count: number }[];
  count: number;
  sum: number;
}

/** Labels of a Prometheus sample line, e.g. `{method="PointService/Search",code="OK",le="0.001"}`. */
function labelsOf(text: string): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const match of text.matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[match[1]!] = match[2]!.replace(/\\(.)/g, "$1");
  return labels;
}

/**
 * The `vectordb_rpc_duration_seconds` histograms of a Prometheus text exposition, summed over status
 * codes, by method; and the calls that did not end OK, by method.
 */
export function rpcHistograms(text: string): { latency: Map<string, Histogram>; failed: Map<string, number> } {
  const latency = new Map<string, Histogram>();
  const failed = new Map<string, number>();
  const of = (method: string): Histogram => {
    let histogram = latency.get(method);
    if (histogram === undefined) latency.set(method, (histogram = { buckets: [], count: 0, sum: 0 }));
    return histogram;
  };
  for (const line of text.split("\n")) {
    const match = /^vectordb_rpc_duration_seconds_(bucket|count|sum)\{([^}]*)\} (\S+)/.exec(line);
    if (match === null) continue;
    const labels = labelsOf(match[2]!);
    const method = labels.method ?? "?";
    const value = Number(match[3]);
    const histogram = of(method);
    if (match[1] === "count") {
      histogram.count += value;
      if (labels.code !== "OK") failed.set(method, (failed.get(method) ?? 0) + value);
    } else if (match[1] === "sum") {
      histogram.sum += value;
    } else {
      const le = labels.le === "+Inf" ? Number.POSITIVE_INFINITY : Number(labels.le);
      const bucket = histogram.buckets.find((b) => b.le === le);
      if (bucket === undefined) histogram.buckets.push({ le, count: value });
      else bucket.count += value;
    }
  }
  for (const histogram of latency.values()) histogram.buckets.sort((a, b) => a.le - b.le);
  return { latency, failed };
}

/**
 * The `q` quantile (0..1) of a histogram, as Prometheus's histogram_quantile estimates it: linear
 * within the bucket that holds the rank, the highest finite bound when it falls in the +Inf bucket;
 * NaN without observations.
 */
export function histogramQuantile(histogram: Histogram, q: number): number {
  const total = histogram.buckets.at(-1)?.count ?? 0;
  if (total === 0) return Number.NaN;
  const rank = q * total;
  let previousBound = 0;
  let previousCount = 0;
  for (const { le, count } of histogram.buckets) {
    if (count >= rank) {
      if (le === Number.POSITIVE_INFINITY) return previousBound;
      return previousBound + ((le - previousBound) * (rank - previousCount)) / Math.max(count - previousCount, 1);
    }
    previousBound = le;
    previousCount = count;
  }
  return previousBound;
}

/** `vectordb stats`: per-RPC call counts and p50/p95/p99 latency, from the server's metrics listener. */
export function statsCommand(): Command {
  const command = new Command("stats")
    .description("per-RPC calls and p50 / p95 / p99 latency since the server started, read from its Prometheus metrics")
    .addOption(new Option("--metrics-url <url>", "the server's metrics endpoint").env("VECTORDB_METRICS_URL").default(cliDefaults.metricsUrl));
  command.action(
    action(async (options: { metricsUrl: string }) => {
      const timeoutMs = command.optsWithGlobals<{ timeoutMs?: number }>().timeoutMs ?? cliDefaults.callTimeoutMs;
      const response = await fetch(options.metricsUrl, { signal: AbortSignal.timeout(timeoutMs) });
      if (!response.ok) throw new Error(`${options.metricsUrl} answered HTTP ${response.status}`);
      const { latency, failed } = rpcHistograms(await response.text());
      const ms = (seconds: number): string => (Number.isNaN(seconds) ? "-" : (seconds * 1000).toFixed(seconds < 0.01 ? 2 : 1));
      const rows = [...latency.entries()].sort(([a], [b]) => a.localeCompare(b));
      const header = ["method", "calls", "failed", "p50 ms", "p95 ms", "p99 ms", "mean ms"];
      const table = rows.map(([method, h]) => [
        method,
        String(h.count),
        String(failed.get(method) ?? 0),
        ms(histogramQuantile(h, 0.5)),
        ms(histogramQuantile(h, 0.95)),
        ms(histogramQuantile(h, 0.99)),
        ms(h.count === 0 ? Number.NaN : h.sum / h.count),
      ]);
      const widths = header.map((title, i) => Math.max(title.length, ...table.map((row) => row[i]!.length)));
      const line = (cells: string[]): string => cells.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join("  ");
      print(`${[line(header), ...table.map(line)].join("\n")}\n`);
    }),
  );
  return command;
}
