import { VectorDbError } from "../../errors.js";

/**
 * The text of a small JSON file of the data directory (`collection.json`, `aliases.json`, a snapshot
 * manifest) as an object, after checking that it is one and that its `formatVersion` is one this build
 * reads.
 *
 * @param path names the file in errors.
 * @throws VectorDbError data_loss (DATA_LOSS) when the text is not a JSON object; failed_precondition
 *   (FAILED_PRECONDITION) for a `formatVersion` not in `versions`.
 */
export function parseVersionedJson(text: string, path: string, versions: readonly number[]): Record<string, unknown> {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new VectorDbError("data_loss", `${path}: not JSON (${error instanceof Error ? error.message : String(error)})`);
  }
  if (typeof json !== "object" || json === null || Array.isArray(json)) throw new VectorDbError("data_loss", `${path}: not a JSON object`);
  const object = json as Record<string, unknown>;
  const version = object.formatVersion;
  if (typeof version !== "number" || !versions.includes(version)) {
    throw new VectorDbError("failed_precondition", `${path}: format version ${JSON.stringify(version)} is not supported (this build reads version${versions.length > 1 ? "s" : ""} ${versions.join(", ")})`);
  }
  return object;
}
