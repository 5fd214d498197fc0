/**
 * Worker thread of the scale benchmark's ground truth: computes {@link bruteForceRange} over the range in
 * its `workerData` ({ spec, k, batchSize, from, to }) and posts `{ all, kept }` back.
 */
import { parentPort, workerData } from "node:worker_threads";
import { bruteForceRange, type ScaleDataSpec } from "./scale-data.js";

const job = workerData as { spec: ScaleDataSpec; k: number; batchSize: number; from: number; to: number };
parentPort!.postMessage(bruteForceRange(job.spec, job.k, job.batchSize, job.from, job.to));
