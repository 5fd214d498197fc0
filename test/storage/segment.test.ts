import { readdir, readFile, truncate, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import {
  decodeSegment,
  encodeSegment,
  nodeFileSystem,
  readSegment,
  removeStaleTemporaries,
  segmentHeaderBytes,
  segmentSectionEntryBytes,
  writeSegment,
  type SegmentContents,
} from "../../src/storage/index.js";
import { pattern, rejectsWith, removeTempDirs, tempDir } from "./helpers.js";

afterEach(removeTempDirs);

const vectors = Float32Array.from({ length: 3 * 5 }, (_, i) => i * 0.25 - 1);
const ids = Uint32Array.from([7, 1, 1_000_000]);

/** Sections of odd lengths, chunked and empty, so padding and alignment are exercised. */
function contents(): SegmentContents {
  return {
    sequence: 123_456_789_012,
    sections: [
      { kind: 10, bytes: pattern(13) },
      { kind: 2, bytes: new Uint8Array(vectors.buffer) },
      { kind: 3, bytes: [pattern(5, 1), new Uint8Array(0), pattern(6, 2)] },
      { kind: 4, bytes: new Uint8Array(0) },
      { kind: 0xffff_ffff, bytes: new Uint8Array(ids.buffer) },
    ],
  };
}

/** File offsets of the sections of {@link contents}: 32 + 5·24 = 152, then aligned to 8. */
const sectionOffsets = new Map([
  [10, 152],
  [2, 168],
  [3, 232],
  [4, 248],
  [0xffff_ffff, 248],
]);
const fileBytes = 248 + 12;

async function written(): Promise<string> {
  const path = join(await tempDir(), "segment.bin");
  await writeSegment(nodeFileSystem, path, contents());
  return path;
}

describe("segment file", () => {
  it("round-trips sections, sequence and sizes, with 8-aligned views", async () => {
    const path = join(await tempDir(), "segment.bin");
    expect(await writeSegment(nodeFileSystem, path, contents())).toEqual({ sizeBytes: fileBytes });
    const segment = await readSegment(nodeFileSystem, path);
    expect(segment.sequence).toBe(123_456_789_012);
    expect(segment.sizeBytes).toBe(fileBytes);
    expect([...segment.sections.keys()]).toEqual([10, 2, 3, 4, 0xffff_ffff]);
    expect(Array.from(segment.sections.get(10)!)).toEqual(Array.from(pattern(13)));
    expect(Array.from(segment.sections.get(3)!)).toEqual([...pattern(5, 1), ...pattern(6, 2)]);
    expect(segment.sections.get(4)!.byteLength).toBe(0);
    for (const bytes of segment.sections.values()) expect(bytes.byteOffset % 8).toBe(0);

    const raw = segment.sections.get(2)!;
    const view = new Float32Array(raw.buffer, raw.byteOffset, raw.byteLength / 4);
    expect(Array.from(view)).toEqual(Array.from(vectors));
    const idBytes = segment.sections.get(0xffff_ffff)!;
    expect(Array.from(new Uint32Array(idBytes.buffer, idBytes.byteOffset, 3))).toEqual([7, 1, 1_000_000]);
    expect(await readdir(join(path, ".."))).toEqual(["segment.bin"]);
  });

  it("places sections at the documented aligned offsets", () => {
    const { chunks, sizeBytes } = encodeSegment(contents());
    const file = Buffer.concat(chunks);
    expect(file.length).toBe(sizeBytes);
    for (let i = 0; i < 5; i++) {
      const entry = segmentHeaderBytes + segmentSectionEntryBytes * i;
      const kind = file.readUInt32LE(entry);
      expect(Number(file.readBigUInt64LE(entry + 4))).toBe(sectionOffsets.get(kind));
    }
    expect(decodeSegment(file, "in-memory").sections.size).toBe(5);
  });

  it("round-trips an empty segment", async () => {
    const path = join(await tempDir(), "empty.seg");
    await writeSegment(nodeFileSystem, path, { sequence: 0, sections: [] });
    const segment = await readSegment(nodeFileSystem, path);
    expect(segment.sequence).toBe(0);
    expect(segment.sections.size).toBe(0);
    expect(segment.sizeBytes).toBe(segmentHeaderBytes);
  });

  it("replaces an existing segment atomically", async () => {
    const path = await written();
    await writeSegment(nodeFileSystem, path, { sequence: 9, sections: [{ kind: 1, bytes: pattern(3) }] });
    const segment = await readSegment(nodeFileSystem, path);
    expect(segment.sequence).toBe(9);
    expect([...segment.sections.keys()]).toEqual([1]);
    expect(await readdir(join(path, ".."))).toEqual(["segment.bin"]);
  });

  it("reports DATA_LOSS naming the section and its offset for a flipped byte in each section", async () => {
    const path = await written();
    const original = await readFile(path);
    for (const [kind, offset] of sectionOffsets) {
      const length = kind === 10 ? 13 : kind === 2 ? 60 : kind === 3 ? 11 : kind === 4 ? 0 : 12;
      if (length === 0) continue;
      for (const within of [0, length - 1]) {
        const damaged = Buffer.from(original);
        damaged[offset + within]! ^= 0x01;
        await writeFile(path, damaged);
        const error = await rejectsWith(readSegment(nodeFileSystem, path), "data_loss");
        expect(error.message).toContain(path);
        expect(error.message).toContain(`segment section ${kind} at offset ${offset} fails its CRC`);
      }
    }
  });

  it("reports DATA_LOSS for a flipped byte anywhere in the header or the section table", async () => {
    const path = await written();
    const original = await readFile(path);
    const tableEnd = segmentHeaderBytes + 5 * segmentSectionEntryBytes;
    for (let at = 0; at < tableEnd; at++) {
      const damaged = Buffer.from(original);
      damaged[at]! ^= 0x10;
      const error = (() => {
        try {
          decodeSegment(damaged, path);
        } catch (e) {
          return e as { code: string; message: string };
        }
        throw new Error(`a flip at byte ${at} went unnoticed`);
      })();
      expect(error.code, `flip at byte ${at}`).toBe("data_loss");
      expect(error.message).toContain(path);
      expect(error.message).toContain("offset 0");
    }
    const damaged = Buffer.from(original);
    damaged[40]! ^= 1; // the offset of the first section
    await writeFile(path, damaged);
    expect((await rejectsWith(readSegment(nodeFileSystem, path), "data_loss")).message).toContain("segment header at offset 0 (with its section table, up to byte 152) fails its CRC");
  });

  it("reports DATA_LOSS for non-zero padding and trailing bytes", async () => {
    const path = await written();
    const original = await readFile(path);
    const padded = Buffer.from(original);
    padded[152 + 13] = 1; // padding after section 10
    await writeFile(path, padded);
    expect((await rejectsWith(readSegment(nodeFileSystem, path), "data_loss")).message).toContain(`padding byte at offset ${152 + 13}`);
    await writeFile(path, Buffer.concat([original, Buffer.from([0])]));
    expect((await rejectsWith(readSegment(nodeFileSystem, path), "data_loss")).message).toContain(`trailing bytes at offset ${fileBytes}`);
  });

  it("reports DATA_LOSS for a segment truncated at any length", async () => {
    const path = await written();
    const original = await readFile(path);
    for (let length = original.length - 1; length >= 0; length--) {
      let error: { code?: string; message: string } | undefined;
      try {
        decodeSegment(original.subarray(0, length), path);
      } catch (e) {
        error = e as { code: string; message: string };
      }
      expect(error?.code, `truncated to ${length} bytes`).toBe("data_loss");
      expect(error!.message).toContain(path);
    }
    await truncate(path, 200);
    const error = await rejectsWith(readSegment(nodeFileSystem, path), "data_loss");
    expect(error.message).toContain("segment section 2 at offset 168 runs to byte 228, past the end of the 200-byte file (truncated)");
  });

  it("rejects a foreign file, a duplicate kind and a bad sequence", async () => {
    const dir = await tempDir();
    await writeFile(join(dir, "x"), Buffer.alloc(64, 0x41));
    expect((await rejectsWith(readSegment(nodeFileSystem, join(dir, "x")), "data_loss")).message).toContain("not a segment file");
    await rejectsWith(readSegment(nodeFileSystem, join(dir, "missing")), "not_found");
    await rejectsWith(writeSegment(nodeFileSystem, join(dir, "y"), { sequence: 1, sections: [{ kind: 1, bytes: pattern(1) }, { kind: 1, bytes: pattern(1) }] }), "invalid_argument");
    await rejectsWith(writeSegment(nodeFileSystem, join(dir, "y"), { sequence: -1, sections: [] }), "invalid_argument");
    await rejectsWith(writeSegment(nodeFileSystem, join(dir, "y"), { sequence: 1, sections: [{ kind: -1, bytes: pattern(1) }] }), "invalid_argument");
    expect(await readdir(dir)).toEqual(["x"]);
  });

  it("ignores a half-written temporary, which removeStaleTemporaries deletes", async () => {
    const path = await written();
    const dir = join(path, "..");
    const stale = "segment.bin.tmp-5f3a9c0d1e2b4a68";
    const full = Buffer.concat(encodeSegment({ sequence: 999, sections: [{ kind: 1, bytes: pattern(4096) }] }).chunks);
    await writeFile(join(dir, stale), full.subarray(0, 1000));
    expect((await readSegment(nodeFileSystem, path)).sequence).toBe(123_456_789_012);
    expect(await removeStaleTemporaries(nodeFileSystem, dir)).toEqual([stale]);
    expect(await readdir(dir)).toEqual(["segment.bin"]);
    expect((await readSegment(nodeFileSystem, path)).sequence).toBe(123_456_789_012);
  });
});
