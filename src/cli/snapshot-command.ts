import { createHash, randomBytes } from "node:crypto";
import { createReadStream } from "node:fs";
import { open, rename, unlink } from "node:fs/promises";
import { basename } from "node:path";
import type { DescMessage, MessageShape } from "@bufbuild/protobuf";
import { Command } from "commander";
import { snapshotChunkBytes } from "../config.js";
import {
  CreateSnapshotResponseSchema,
  DeleteSnapshotResponseSchema,
  ListSnapshotsResponseSchema,
  RestoreSnapshotResponseSchema,
  type SnapshotInfo,
  type VectorDbClient,
} from "../client/index.js";
import { action } from "./cli-errors.js";
import { print, withClient } from "./client-context.js";
import { messageJson } from "./parse.js";

/** SHA-256 of a file, 64 lowercase hex digits, read in a stream. */
async function fileSha256(path: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

/**
 * Downloads a snapshot into `path` (a temporary name beside it, renamed once complete and verified):
 * the SHA-256 of the bytes received must be the one the server reports.
 * @throws Error when the download is incomplete or its hash differs (nothing is left at `path`).
 */
async function download(client: VectorDbClient, collection: string, name: string, path: string, timeoutMs: number | undefined): Promise<{ info: SnapshotInfo; bytes: number }> {
  const temporary = `${path}.tmp-${randomBytes(6).toString("hex")}`;
  const file = await open(temporary, "wx");
  const hash = createHash("sha256");
  let info: SnapshotInfo | undefined;
  let bytes = 0;
  try {
    for await (const message of client.snapshots.downloadSnapshot({ collection, name }, { timeoutMs })) {
      info ??= message.snapshot;
      hash.update(message.chunk);
      await file.write(message.chunk);
      bytes += message.chunk.byteLength;
    }
    await file.sync();
    await file.close();
    const sha256 = hash.digest("hex");
    if (info === undefined || bytes !== Number(info.sizeBytes) || sha256 !== info.sha256) {
      throw new Error(`the download of ${name} is damaged: ${bytes} bytes with sha256 ${sha256}, the server reports ${info?.sizeBytes ?? "?"} bytes with sha256 ${info?.sha256 ?? "?"}`);
    }
    await rename(temporary, path);
    return { info, bytes };
  } catch (error) {
    await file.close().catch(() => undefined);
    await unlink(temporary).catch(() => undefined);
    throw error;
  }
}

/** The chunks of a file to restore, of at most {@link snapshotChunkBytes}; the first message carries the name and hash. */
async function* restoreMessages(path: string, collection: string, sha256: string): AsyncGenerator<{ collection?: string; sha256?: string; chunk: Uint8Array }> {
  let first = true;
  for await (const chunk of createReadStream(path, { highWaterMark: snapshotChunkBytes })) {
    yield first ? { collection, sha256, chunk: chunk as Buffer } : { chunk: chunk as Buffer };
    first = false;
  }
  if (first) yield { collection, sha256, chunk: new Uint8Array(0) };
}

/**
 * Makes `command` call the server with its arguments (`<collection>` and, for some, `<name>`) and print
 * the response as proto3 JSON. `timeoutMsDefault` as in `withClient`.
 */
function printing<Desc extends DescMessage>(
  command: Command,
  schema: Desc,
  call: (client: VectorDbClient, timeoutMs: number | undefined, collection: string, name?: string) => Promise<MessageShape<Desc>>,
  timeoutMsDefault?: number | "none",
): void {
  command.action(
    action(async (collection: string, name?: unknown) => {
      await withClient(command, async ({ client, timeoutMs }) => print(messageJson(schema, await call(client, timeoutMs, collection, typeof name === "string" ? name : undefined))), timeoutMsDefault);
    }),
  );
}

/**
 * `vectordb snapshot create|list|download|restore|delete`: SnapshotService calls. `create`, `list` and
 * `delete` print the response as proto3 JSON; `download` writes the file (verified against its
 * sha256) and prints what it wrote; `restore` streams a file (its sha256 computed here unless
 * `--sha256` is given) and prints the new collection. `create`, `download` and `restore` have no
 * deadline unless `--timeout-ms` is given (a large collection takes a while). Server errors exit 1.
 */
export function snapshotCommand(): Command {
  const snapshot = new Command("snapshot").description("create, list, download, restore and delete collection snapshots");

  const createCommand = new Command("create").description("snapshot a collection while it serves").argument("<collection>", "collection (or alias)");
  printing(createCommand, CreateSnapshotResponseSchema, (client, timeoutMs, collection) => client.snapshots.createSnapshot({ collection }, { timeoutMs }), "none");
  const list = new Command("list").description("list the snapshots of a collection, oldest first").argument("<collection>", "collection (or alias)");
  printing(list, ListSnapshotsResponseSchema, (client, timeoutMs, collection) => client.snapshots.listSnapshots({ collection }, { timeoutMs }));

  const downloadCommand = new Command("download")
    .description("download a snapshot file")
    .argument("<collection>", "collection (or alias)")
    .argument("<name>", "snapshot name, as `snapshot list` shows it")
    .option("-o, --output <file>", "where to write it (default: ./<name>)");
  downloadCommand.action(
    action(async (collection: string, name: string, options: { output?: string }) => {
      const path = options.output ?? basename(name);
      await withClient(
        downloadCommand,
        async ({ client, timeoutMs }) => {
          const { info, bytes } = await download(client, collection, name, path, timeoutMs);
          print(`${JSON.stringify({ name: info.name, path, sizeBytes: String(bytes), sha256: info.sha256 }, null, 2)}\n`);
        },
        "none",
      );
    }),
  );

  const restore = new Command("restore")
    .description("restore a snapshot file as a new collection")
    .argument("<file>", "a snapshot file (from `snapshot download`)")
    .requiredOption("--collection <name>", "name of the new collection (required)")
    .option("--sha256 <hex>", "expected sha256 of the file (default: computed from the file)");
  restore.action(
    action(async (file: string, options: { collection: string; sha256?: string }) => {
      const sha256 = options.sha256 ?? (await fileSha256(file));
      await withClient(restore, async ({ client, timeoutMs }) => print(messageJson(RestoreSnapshotResponseSchema, await client.snapshots.restoreSnapshot(restoreMessages(file, options.collection, sha256), { timeoutMs }))), "none");
    }),
  );

  const drop = new Command("delete").description("delete a snapshot file").argument("<collection>", "collection (or alias)").argument("<name>", "snapshot name");
  printing(drop, DeleteSnapshotResponseSchema, (client, timeoutMs, collection, name) => client.snapshots.deleteSnapshot({ collection, name: name ?? "" }, { timeoutMs }));

  return snapshot.addCommand(createCommand).addCommand(list).addCommand(downloadCommand).addCommand(restore).addCommand(drop);
}
