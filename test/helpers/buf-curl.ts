import { execFile } from "node:child_process";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

/** The `buf` binary installed by npm (@bufbuild/buf). */
export const bufBinary = resolve(dirname(fileURLToPath(import.meta.url)), "../../node_modules/.bin/buf");

const run = promisify(execFile);

/** Runs `buf curl --protocol grpc --http2-prior-knowledge ARGS`; resolves to stdout, rejects with stderr on failure. */
export async function bufCurl(args: string[]): Promise<string> {
  try {
    const { stdout } = await run(bufBinary, ["curl", "--protocol", "grpc", "--http2-prior-knowledge", ...args], { timeout: 30_000 });
    return stdout;
  } catch (error) {
    const failure = error as { stderr?: string; code?: number };
    throw new Error(`buf curl exited ${failure.code}: ${failure.stderr ?? String(error)}`);
  }
}
