/**
 * Names of everything replication keeps in NATS JetStream (one set per NATS account):
 *
 * | name                 | kind         | holds                                                        |
 * | -------------------- | ------------ | ------------------------------------------------------------ |
 * | `VDB_META`           | stream       | collection create/drop, alias and ef changes, as JSON records |
 * | `VDB_C_<incarnation>`| stream       | one collection's WAL records (incarnation = the meta sequence of its create) |
 * | `VDB_LEASE`          | KV bucket    | key `leader`: the leader's lease (TTL = lease length)        |
 * | `VDB_CHECKPOINTS`    | object store | `<incarnation>/<sequence>`: snapshot files of collections    |
 *
 * Every record carries two headers: {@link termHeader}, the lease revision of the leader that wrote
 * it (fencing), and {@link typeHeader}, the WAL record type (or `barrier`, `meta`).
 */
export const metaStreamName = "VDB_META";
export const metaSubject = "vdb.meta";
export const leaseBucketName = "VDB_LEASE";
export const leaseKey = "leader";
export const checkpointBucketName = "VDB_CHECKPOINTS";

/** The lease revision of the leader that wrote the record. */
export const termHeader = "Vdb-Term";
/** The WAL record type of a collection record, `barrier` for a new leader's first record, `meta` for a meta record. */
export const typeHeader = "Vdb-Type";
/** The type header of the record a new leader writes first to every log (it carries the new term). */
export const barrierType = "barrier";

/** The stream of the collection incarnation `incarnation`. */
export function collectionStreamName(incarnation: number): string {
  return `VDB_C_${incarnation}`;
}

/** The subject of the collection incarnation `incarnation`. */
export function collectionSubject(incarnation: number): string {
  return `vdb.c.${incarnation}`;
}

/** Object name of a checkpoint: sequence zero-padded so names sort by sequence. */
export function checkpointObjectName(incarnation: number, sequence: number): string {
  return `${incarnation}/${String(sequence).padStart(16, "0")}`;
}

/** The sequence of a checkpoint object of `incarnation`, or undefined for another incarnation's object. */
export function checkpointSequenceOf(incarnation: number, objectName: string): number | undefined {
  const match = /^(\d+)\/(\d{16})$/.exec(objectName);
  if (match === null || Number(match[1]) !== incarnation) return undefined;
  return Number(match[2]);
}
