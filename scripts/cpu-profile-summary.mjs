#!/usr/bin/env node
/**
 * Summarises a V8 .cpuprofile (from `node --cpu-prof`): the functions with the most self time, and the
 * inclusive time of the functions whose name matches --focus (a regular expression), as ms and as a
 * share of the profile's non-idle samples.
 *
 * Usage: node scripts/cpu-profile-summary.mjs FILE.cpuprofile [--top 25] [--focus 'search|hitToProto']
 */
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";

const { values, positionals } = parseArgs({ allowPositionals: true, options: { top: { type: "string", default: "25" }, focus: { type: "string" } } });
if (positionals.length !== 1) {
  console.error("usage: node scripts/cpu-profile-summary.mjs FILE.cpuprofile [--top 25] [--focus REGEX]");
  process.exit(2);
}
const profile = JSON.parse(readFileSync(positionals[0], "utf8"));
const byId = new Map(profile.nodes.map((node) => [node.id, node]));
const parent = new Map();
for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
const label = (node) => {
  const { functionName, url, lineNumber } = node.callFrame;
  const file = url.replace(/^.*\/(node_modules\/)?/, (m, nm) => (nm ? "nm:" : ""));
  return `${functionName || "(anonymous)"} ${file}:${lineNumber + 1}`;
};
const self = new Map();
const inclusive = new Map();
const focus = values.focus === undefined ? undefined : new RegExp(values.focus);
let total = 0;
let idle = 0;
for (let i = 0; i < profile.samples.length; i++) {
  const ms = (profile.timeDeltas[i + 1] ?? 0) / 1000;
  const node = byId.get(profile.samples[i]);
  const name = node.callFrame.functionName;
  if (name === "(idle)" || name === "(program)") {
    idle += ms;
    continue;
  }
  total += ms;
  const key = label(node);
  self.set(key, (self.get(key) ?? 0) + ms);
  if (focus === undefined) continue;
  const seen = new Set();
  for (let id = node.id; id !== undefined; id = parent.get(id)) {
    const frame = byId.get(id);
    if (!focus.test(frame.callFrame.functionName)) continue;
    const frameKey = label(frame);
    if (seen.has(frameKey)) continue;
    seen.add(frameKey);
    inclusive.set(frameKey, (inclusive.get(frameKey) ?? 0) + ms);
  }
}
const show = (map) =>
  [...map].sort((a, b) => b[1] - a[1]).slice(0, Number(values.top)).map(([key, ms]) => `${ms.toFixed(0).padStart(7)} ms ${((100 * ms) / total).toFixed(1).padStart(5)}%  ${key}`).join("\n");
console.log(`busy ${total.toFixed(0)} ms, idle/program ${idle.toFixed(0)} ms`);
console.log(`self time:\n${show(self)}`);
if (focus !== undefined) console.log(`inclusive time of /${values.focus}/:\n${show(inclusive)}`);
