import { readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { fsyncDirectory, fsyncFile, isTemporaryName, nodeFileSystem, removeStaleTemporaries, writeFileAtomic } from "../../src/storage/index.js";
import { pattern, rejectsWith, removeTempDirs, tempDir } from "./helpers.js";

afterEach(removeTempDirs);

describe("file helpers", () => {
  it("writeFileAtomic writes the concatenated chunks, replaces the old file and leaves no temporary", async () => {
    const dir = await tempDir();
    const path = join(dir, "data.bin");
    await writeFile(path, "old contents");
    const many = Array.from({ length: 3000 }, (_, i) => pattern(i % 7, i));
    const size = await writeFileAtomic(nodeFileSystem, path, [pattern(10), new Uint8Array(0), ...many]);
    const expected = Buffer.concat([pattern(10), ...many]);
    expect(size).toBe(expected.length);
    expect((await readFile(path)).equals(expected)).toBe(true);
    expect(await readdir(dir)).toEqual(["data.bin"]);
  });

  it("writeFileAtomic into a missing directory is NOT_FOUND and leaves nothing behind", async () => {
    const dir = await tempDir();
    await rejectsWith(writeFileAtomic(nodeFileSystem, join(dir, "nope", "data.bin"), [pattern(3)]), "not_found");
    expect(await readdir(dir)).toEqual([]);
  });

  it("removeStaleTemporaries deletes only temporaries, optionally of one file", async () => {
    const dir = await tempDir();
    for (const name of ["wal.log", "wal.log.tmp-0a1b", "segment.bin", "segment.bin.tmp-ffee00", "notes.tmp-x", "tmp-1"]) {
      await writeFile(join(dir, name), name);
    }
    expect(await removeStaleTemporaries(nodeFileSystem, dir, { of: join(dir, "wal.log") })).toEqual(["wal.log.tmp-0a1b"]);
    expect(await removeStaleTemporaries(nodeFileSystem, dir)).toEqual(["segment.bin.tmp-ffee00"]);
    expect((await readdir(dir)).sort()).toEqual(["notes.tmp-x", "segment.bin", "tmp-1", "wal.log"]);
    expect(await removeStaleTemporaries(nodeFileSystem, dir)).toEqual([]);
    expect(isTemporaryName("a.tmp-0123456789abcdef")).toBe(true);
    expect(isTemporaryName("a.tmp")).toBe(false);
  });

  it("fsyncFile and fsyncDirectory succeed on existing paths and are NOT_FOUND otherwise", async () => {
    const dir = await tempDir();
    await writeFile(join(dir, "f"), "x");
    await fsyncFile(nodeFileSystem, join(dir, "f"));
    await fsyncDirectory(nodeFileSystem, dir);
    await rejectsWith(fsyncFile(nodeFileSystem, join(dir, "missing")), "not_found");
    await rejectsWith(fsyncDirectory(nodeFileSystem, join(dir, "missing")), "not_found");
    await rejectsWith(removeStaleTemporaries(nodeFileSystem, join(dir, "missing")), "not_found");
  });
});
