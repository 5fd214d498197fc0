import { describe, expect, it } from "vitest";
import { errorCode, type StorageFile } from "../../src/storage/index.js";
import { SimClock, SimulatedDisk, type SimulatedFileSystem } from "../../src/testing/sim/index.js";

/** Runs `promise` to completion, letting the disk complete one operation at a time. */
async function settle<T>(disk: SimulatedDisk, promise: Promise<T>): Promise<T> {
  let done = false;
  const finish = (): void => {
    done = true;
  };
  promise.then(finish, finish);
  for (let turns = 0; !done; turns++) {
    if (turns > 10_000) throw new Error("the operation never completed");
    await disk.step();
  }
  return promise;
}

/** A file written (not synced): "hello", then "world" at 5. */
async function twoWrites(disk: SimulatedDisk, fs: SimulatedFileSystem, path = "/f"): Promise<StorageFile> {
  const file = await settle(disk, fs.open(path, "wx+"));
  await settle(disk, file.write([Buffer.from("hello")], 0));
  await settle(disk, file.write([Buffer.from("world")], 5));
  return file;
}

async function read(disk: SimulatedDisk, fs: SimulatedFileSystem, path: string): Promise<string> {
  const file = await settle(disk, fs.open(path, "r"));
  const size = await settle(disk, file.size());
  const buffer = Buffer.alloc(size);
  await settle(disk, file.read(buffer, 0, size, 0));
  await settle(disk, file.close());
  return buffer.toString("latin1");
}

describe("simulated disk", () => {
  it("keeps a synced file and its synced name across a power cut, and loses what was only cached (worst case)", async () => {
    const disk = new SimulatedDisk(1);
    disk.cacheFate = "lost";
    let fs = disk.fs;
    const file = await twoWrites(disk, fs);
    await settle(disk, file.sync());
    await settle(disk, fs.syncDirectory("/"));
    await settle(disk, file.write([Buffer.from("!!")], 10));
    expect(await read(disk, fs, "/f")).toBe("helloworld!!");
    fs = disk.powerCut();
    expect(await read(disk, fs, "/f")).toBe("helloworld");
  });

  it("loses a file whose creation was not made durable by a directory fsync, however synced its data", async () => {
    const disk = new SimulatedDisk(2);
    disk.cacheFate = "lost";
    const file = await twoWrites(disk, disk.fs);
    await settle(disk, file.sync());
    const fs = disk.powerCut();
    await expect(settle(disk, fs.stat("/f"))).rejects.toMatchObject({ code: "ENOENT" });
  });

  it("makes a rename durable only with its directory's fsync: before, a power cut brings the old file back", async () => {
    const disk = new SimulatedDisk(3);
    disk.cacheFate = "lost";
    let fs = disk.fs;
    for (const [name, text] of [
      ["/a", "old"],
      ["/a.tmp", "new"],
    ] as const) {
      const file = await settle(disk, fs.open(name, "wx"));
      await settle(disk, file.write([Buffer.from(text)], 0));
      await settle(disk, file.sync());
      await settle(disk, file.close());
    }
    await settle(disk, fs.syncDirectory("/"));
    await settle(disk, fs.rename("/a.tmp", "/a"));
    expect(await read(disk, fs, "/a")).toBe("new");
    fs = disk.powerCut();
    expect(await read(disk, fs, "/a")).toBe("old");
    await settle(disk, fs.rename("/a.tmp", "/a"));
    await settle(disk, fs.syncDirectory("/"));
    fs = disk.powerCut();
    expect(await read(disk, fs, "/a")).toBe("new");
    expect((await settle(disk, fs.readdir("/"))).map((entry) => entry.name)).toEqual(["a"]);
  });

  it("tears a cached write at a 512-byte sector boundary, and fills a lost earlier write with zeros", async () => {
    const seen = new Set<string>();
    for (let seed = 0; seed < 200; seed++) {
      const disk = new SimulatedDisk(seed);
      let fs = disk.fs;
      const file = await settle(disk, fs.open("/w", "wx"));
      await settle(disk, fs.syncDirectory("/"));
      await settle(disk, file.write([Buffer.alloc(100, 1)], 0));
      await settle(disk, file.write([Buffer.alloc(1400, 2)], 100));
      fs = disk.powerCut();
      const bytes = Buffer.from(await read(disk, fs, "/w"), "latin1");
      // Every survivor is: nothing, the first write, and a prefix of the second ending at 512, 1024 or 1500.
      expect([0, 100, 512, 1024, 1500]).toContain(bytes.length);
      const first = bytes.subarray(0, Math.min(100, bytes.length));
      expect(first.every((b) => b === 1) || first.every((b) => b === 0)).toBe(true);
      expect(bytes.subarray(100).every((b) => b === 2)).toBe(true);
      seen.add(`${bytes.length}:${first[0] ?? "-"}`);
    }
    // Whole, none, torn, and out of order (the second write without the first: zeros before it).
    expect(seen).toContain("0:-");
    expect(seen).toContain("1500:1");
    expect(seen).toContain("512:1");
    expect(seen).toContain("1500:0");
  });

  it("after a failed fsync (EIO), a later fsync that succeeds does not make the dropped writes durable (fsyncgate)", async () => {
    const disk = new SimulatedDisk(4);
    disk.cacheFate = "lost";
    let fs = disk.fs;
    const file = await settle(disk, fs.open("/g", "wx+"));
    await settle(disk, fs.syncDirectory("/"));
    await settle(disk, file.write([Buffer.from("lost")], 0));
    disk.injectFault({ operation: "sync", kind: "EIO" });
    const error = await settle(disk, file.datasync()).catch((e: unknown) => e);
    expect(errorCode(error)).toBe("EIO");
    // Still readable from the cache, and a retried fsync "succeeds"…
    expect(await read(disk, fs, "/g")).toBe("lost");
    await settle(disk, file.datasync());
    await settle(disk, file.write([Buffer.from("kept")], 4));
    await settle(disk, file.datasync());
    // …but the first write never reaches the disk: zeros, then what the later fsync covered.
    fs = disk.powerCut();
    expect(await read(disk, fs, "/g")).toBe("\0\0\0\0kept");
  });

  it("injects ENOSPC and short writes on demand, and a process crash keeps the page cache", async () => {
    const disk = new SimulatedDisk(5);
    let fs = disk.fs;
    const file = await settle(disk, fs.open("/s", "wx"));
    disk.injectFault({ operation: "write", kind: "ENOSPC", pathIncludes: "/s" });
    await expect(settle(disk, file.write([Buffer.from("abc")], 0))).rejects.toMatchObject({ code: "ENOSPC" });
    disk.injectFault({ operation: "write", kind: "short" });
    const written = await settle(disk, file.write([Buffer.from("abcdef")], 0));
    expect(written).toBeGreaterThanOrEqual(1);
    expect(written).toBeLessThan(6);
    expect(disk.counters.faults).toBe(2);
    fs = disk.processCrash();
    expect(await read(disk, fs, "/s")).toBe("abcdef".slice(0, written));
  });

  it("cuts the power before the n-th mutation: nothing queued or later settles, and the next boot sees the durable state", async () => {
    const disk = new SimulatedDisk(6);
    disk.cacheFate = "lost";
    const fs = disk.fs;
    const file = await settle(disk, fs.open("/p", "wx"));
    await settle(disk, fs.syncDirectory("/"));
    await settle(disk, file.write([Buffer.from("one")], 0));
    await settle(disk, file.sync());
    disk.armPowerCut(disk.counters.mutations + 2);
    const settled: string[] = [];
    await settle(disk, file.write([Buffer.from("two")], 3).then(() => settled.push("write")));
    void file.sync().then(() => settled.push("sync"));
    for (let i = 0; i < 10; i++) await disk.step();
    expect(disk.dead).toBe(true);
    expect(settled).toEqual(["write"]);
    void fs.stat("/p").then(() => settled.push("stat"));
    await disk.step();
    expect(settled).toEqual(["write"]);
    const next = disk.powerCut();
    expect(await read(disk, next, "/p")).toBe("one");
  });

  it("is deterministic: the same seed makes the same choices", async () => {
    const run = async (seed: number): Promise<string[]> => {
      const disk = new SimulatedDisk(seed);
      const fs = disk.fs;
      const names = [fs.uniqueSuffix(), fs.uniqueSuffix()];
      const files = await Promise.all([settle(disk, fs.open("/x", "wx")), settle(disk, fs.open("/y", "wx"))]);
      for (const [i, file] of files.entries()) void file.write([Buffer.alloc(700 * (i + 1), i + 1)], 0);
      while (await disk.step());
      const next = disk.powerCut();
      const listing = (await settle(disk, next.readdir("/"))).map((entry) => entry.name).sort();
      const sizes = await Promise.all(listing.map(async (name) => (await settle(disk, next.stat(`/${name}`))).sizeBytes));
      return [...names, ...listing, ...sizes.map(String)];
    };
    expect(await run(42)).toEqual(await run(42));
    expect(await run(42)).not.toEqual(await run(43));
  });

  it("fires clock timers at their due times, in order, and never after a stop", async () => {
    const clock = new SimClock(100);
    const fired: string[] = [];
    const a = clock.every(10, () => fired.push(`a@${clock.now()}`));
    clock.every(25, () => fired.push(`b@${clock.now()}`));
    await clock.advance(30);
    expect(fired).toEqual(["a@110", "a@120", "b@125", "a@130"]);
    a.cancel();
    await clock.advance(20);
    expect(fired.slice(4)).toEqual(["b@150"]);
    expect(clock.now()).toBe(150);
    clock.stop();
    await clock.advance(100);
    expect(fired).toHaveLength(5);
  });
});
