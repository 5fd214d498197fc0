/**
 * The folder of one collection, `<dataDir>/collections/<name>/` (the data directory around it is
 * `src/db/data-dir.ts`'s):
 *
 * | file              | format                                                                      |
 * |-------------------|-----------------------------------------------------------------------------|
 * | `collection.json` | the spec: format version, name, dimension, distance, HNSW parameters        |
 * |                   | (`spec-file.ts`)                                                            |
 * | `wal.log`         | write-ahead log: framing in `src/storage/wal/format.ts`, record bodies in   |
 * |                   | `wal-records.ts`                                                            |
 * | `segments.json`   | the manifest: the segments as of the last checkpoint, their files, the      |
 * |                   | resumable loads (`manifest-file.ts`); absent before the first checkpoint    |
 * | `segment-<id>-<seq>.bin` | one segment, as the checkpoint at sequence `seq` wrote it: file format |
 * |                   | in `src/storage/segment/segment.ts`, sections in `segment-sections.ts`      |
 * | `segment.bin`     | the whole collection, as builds before segments (and a restored snapshot)   |
 * |                   | wrote it; read as one segment while no manifest exists                      |
 * | `*.tmp-<hex>`     | a file being replaced atomically (removed on open: never complete)          |
 *
 * Versions: the WAL and segment files carry their own framing versions (storage/). Inside them, the
 * segment's meta section carries {@link segmentSectionsFormatVersion}; WAL record bodies carry none of
 * their own, so `collection.json`'s `formatVersion` ({@link collectionFormatVersion}) versions both
 * itself and the record bodies: changing either means a new `collectionFormatVersion`.
 *
 * Version 2 added WAL record types 4 (payload change) and 5 (resumable-load batch), and the segment
 * sections 16 (ingests) and 17 (spec, in snapshot files). A version-1 folder is read as it is, and its
 * `collection.json` is rewritten as version 2 when it is opened, before any new record can be written,
 * so that an older build refuses the folder (FAILED_PRECONDITION) instead of failing on a record type it
 * does not know.
 *
 * Version 3 added the segments: `segments.json` and `segment-<id>-<seq>.bin` / `.del` files instead of
 * one `segment.bin` (still read, as one segment, while a folder has no manifest). A version-2 folder is
 * read as it is and upgraded the same way, so that a build before segments refuses a folder it would
 * take for one whose segment was lost.
 */

/** The spec file inside a collection folder. */
export const specFileName = "collection.json";
/** The WAL's file name inside a collection folder. */
export const walFileName = "wal.log";
/** The single segment file of a folder written before segments (or by a snapshot restore). */
export const segmentFileName = "segment.bin";
/** The manifest of the segments inside a collection folder. */
export const manifestFileName = "segments.json";

/** `formatVersion` of `collection.json`: the version of that file and of the WAL record bodies. */
export const collectionFormatVersion = 3;
/** The `formatVersion`s of `collection.json` this build reads. */
export const collectionFormatVersionsRead: readonly number[] = [1, 2, 3];
/** Word 0 of a segment's meta section: the version of the segment sections' contents. */
export const segmentSectionsFormatVersion = 1;
