import { createHash, timingSafeEqual } from "node:crypto";
import { readFileSync } from "node:fs";
import type * as grpc from "@grpc/grpc-js";
import type { AuthConfig } from "../config.js";
import { VectorDbError } from "../errors.js";
import type { CallHooks, CallInfo } from "./service-adapter.js";

/** The keys a server accepts (none: every call is allowed). */
export interface ApiKeys {
  readWrite?: string | undefined;
  readOnly?: string | undefined;
}

/**
 * The methods a read-only key may call, by name: the ones that change nothing (searches, reads,
 * listings, downloads).
 */
export const readOnlyMethods: ReadonlySet<string> = new Set([
  "Search",
  "BatchSearch",
  "Get",
  "Scroll",
  "Count",
  "GetCollection",
  "ListCollections",
  "ListAliases",
  "ListSnapshots",
  "DownloadSnapshot",
  "ServerReflectionInfo",
]);

/**
 * The keys of `auth`: from the flags or environment, else from `apiKeyFile` (lines `rw <key>` /
 * `ro <key>`, or one bare line: the read-write key; blank lines and `#` comments ignored).
 * @throws Error naming the file or the setting when the file cannot be read or a line is not a key,
 *   or a key is empty or has whitespace.
 */
export function resolveApiKeys(auth: Readonly<AuthConfig>): ApiKeys {
  const keys: ApiKeys = { readWrite: auth.apiKey, readOnly: auth.readOnlyApiKey };
  if (auth.apiKeyFile !== undefined) {
    let text: string;
    try {
      text = readFileSync(auth.apiKeyFile, "utf8");
    } catch (error) {
      throw new Error(`--api-key-file (VECTORDB_API_KEY_FILE): cannot read ${auth.apiKeyFile}: ${error instanceof Error ? error.message : String(error)}`);
    }
    const lines = text.split(/\r?\n/).map((line) => line.trim()).filter((line) => line !== "" && !line.startsWith("#"));
    for (const [i, line] of lines.entries()) {
      const [kind, key, extra] = line.split(/\s+/);
      if (lines.length === 1 && key === undefined) keys.readWrite ??= kind;
      else if (kind === "rw" && key !== undefined && extra === undefined) keys.readWrite ??= key;
      else if (kind === "ro" && key !== undefined && extra === undefined) keys.readOnly ??= key;
      else throw new Error(`--api-key-file (VECTORDB_API_KEY_FILE): ${auth.apiKeyFile} line ${i + 1}: expected "rw <key>" or "ro <key>"`);
    }
  }
  for (const [name, key] of [
    ["--api-key", keys.readWrite],
    ["--read-only-api-key", keys.readOnly],
  ] as const) {
    if (key !== undefined && (key === "" || /\s/.test(key))) throw new Error(`${name}: a key must be non-empty, without whitespace`);
  }
  if (keys.readWrite !== undefined && keys.readWrite === keys.readOnly) throw new Error("--api-key and --read-only-api-key must differ");
  return keys;
}

/** The key a call presents: the `api-key` header (Qdrant's), else `authorization: Bearer <key>`. */
export function presentedKey(metadata: grpc.Metadata): string | undefined {
  const apiKey = metadata.get("api-key")[0];
  if (typeof apiKey === "string" && apiKey !== "") return apiKey;
  const authorization = metadata.get("authorization")[0];
  if (typeof authorization === "string") {
    const match = /^Bearer\s+(\S+)$/i.exec(authorization.trim());
    if (match !== null) return match[1];
  }
  return undefined;
}

/** Whether `presented` equals `expected`, in time independent of where they differ (both are hashed first, so lengths leak nothing either). */
function sameKey(presented: string, expected: string): boolean {
  const digest = (text: string): Buffer => createHash("sha256").update(text, "utf8").digest();
  return timingSafeEqual(digest(presented), digest(expected));
}

/** The access a presented key grants: "all", "read", or undefined (no valid key). */
export function accessOf(keys: ApiKeys, presented: string | undefined): "all" | "read" | undefined {
  if (presented === undefined) return undefined;
  // Both comparisons always run, so the time does not tell which key matched.
  const readWrite = keys.readWrite !== undefined && sameKey(presented, keys.readWrite);
  const readOnly = keys.readOnly !== undefined && sameKey(presented, keys.readOnly);
  return readWrite ? "all" : readOnly ? "read" : undefined;
}

/**
 * Admission by API key, for the data services: with no key configured every call passes; otherwise
 * a call without a valid key is UNAUTHENTICATED, and a write with the read-only key PERMISSION_DENIED.
 */
export class ApiKeyGate implements CallHooks {
  constructor(private readonly keys: ApiKeys) {}

  get enabled(): boolean {
    return this.keys.readWrite !== undefined || this.keys.readOnly !== undefined;
  }

  admit(call: CallInfo): void {
    if (!this.enabled) return;
    const presented = presentedKey(call.metadata);
    const access = accessOf(this.keys, presented);
    if (access === undefined) {
      throw new VectorDbError("unauthenticated", presented === undefined ? "an API key is required: send `api-key: <key>` or `authorization: Bearer <key>`" : "the API key is not valid");
    }
    const method = call.path.slice(call.path.lastIndexOf("/") + 1);
    if (access === "read" && !readOnlyMethods.has(method)) throw new VectorDbError("permission_denied", `${method}: the read-only API key cannot call it`);
  }
}
