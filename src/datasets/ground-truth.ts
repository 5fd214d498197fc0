import { readFileSync } from "node:fs";

/**
 * Reads a TEXMEX `.ivecs` file: per record a little-endian int32 `k`, then `k` int32 values. In the
 * datasets' ground-truth files record `i` lists the ids (0-based base row numbers) of query `i`'s
 * nearest neighbours, nearest first.
 *
 * @throws Error when a record runs past the end of the file or declares a negative `k`.
 */
export function readIvecsFile(path: string): Int32Array[] {
  const bytes = readFileSync(path);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const rows: Int32Array[] = [];
  for (let offset = 0; offset < bytes.byteLength; ) {
    if (offset + 4 > bytes.byteLength) throw new Error(`${path}: record ${rows.length} is cut short at byte ${offset}`);
    const k = view.getInt32(offset, true);
    if (k < 0 || offset + 4 + 4 * k > bytes.byteLength) throw new Error(`${path}: record ${rows.length} declares k=${k}, past the end of the file`);
    const row = new Int32Array(k);
    for (let i = 0; i < k; i++) row[i] = view.getInt32(offset + 4 + 4 * i, true);
    rows.push(row);
    offset += 4 + 4 * k;
  }
  return rows;
}
