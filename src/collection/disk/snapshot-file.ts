/**
 * A snapshot file (SnapshotService) is a segment file (`src/storage/segment/segment.ts`: header,
 * section table, a CRC-32 per section) holding the sections of a collection's state, exactly as a
 * checkpoint writes `segment.bin` (`segment-sections.ts`), plus section 17, `spec`: the collection's
 * `collection.json` at the moment of the snapshot. So a snapshot restores without any other file, and
 * the restored folder's `segment.bin` is the snapshot file itself (the spec section is ignored there).
 */
import { VectorDbError } from "../../errors.js";
import type { Segment, SegmentSectionInput } from "../../storage/index.js";
import type { CollectionState } from "../snapshot.js";
import type { CollectionSpec } from "../types.js";
import { encodeStateSections, sectionKind } from "./segment-sections.js";
import { decodeSpec, encodeSpec } from "./spec-file.js";

/** The sections of a snapshot of `state` taken under `spec`. Runs asynchronously in slices, as a checkpoint's encoding. */
export async function encodeSnapshotSections(state: CollectionState, spec: Readonly<CollectionSpec>): Promise<SegmentSectionInput[]> {
  const sections = await encodeStateSections(state, spec);
  sections.push({ kind: sectionKind.spec, bytes: Buffer.from(encodeSpec(spec), "utf8") });
  return sections;
}

/**
 * The spec a snapshot file carries (CRCs already verified by `readSegment`).
 *
 * @param label names the file in errors (e.g. `snapshot`).
 * @throws VectorDbError invalid_argument (INVALID_ARGUMENT) when the file has no spec section (a
 *   `segment.bin`, not a snapshot); data_loss (DATA_LOSS) when the spec does not parse;
 *   failed_precondition (FAILED_PRECONDITION) for a spec format this build does not read.
 */
export function decodeSnapshotSpec(segment: Segment, label: string): CollectionSpec {
  const bytes = segment.sections.get(sectionKind.spec);
  if (bytes === undefined) {
    throw new VectorDbError("invalid_argument", `${label}: the file has no spec section (kind ${sectionKind.spec}): it is not a snapshot file (a collection's segment.bin, perhaps)`);
  }
  return decodeSpec(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("utf8"), `${label}: spec section (kind ${sectionKind.spec})`);
}
