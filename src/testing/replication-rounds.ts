import type { VectorDbClient } from "../client/index.js";
import { sleep } from "./net.js";
import type { ReplicaSet } from "./replica-set.js";

/** What one failover round found. */
export interface FailoverRound {
  kind: "kill-leader" | "pause-leader" | "kill-nats-node";
  /**
   * kill-leader, pause-leader: from the signal to the first write acknowledged by the new leader, ms.
   * kill-nats-node: the longest time without an acknowledged write from the kill on, ms.
   */
  failoverMs: number;
  /** Writes (batches) acknowledged, and the points they held. */
  ackedBatches: number;
  ackedPoints: number;
  /** Acknowledged points missing, or holding an older value, on the new leader or a follower. */
  lost: string[];
  /** Batches whose call failed (outcome unknown; retried on the leader). */
  unknownBatches: number;
  /** pause-leader: writes the old leader acknowledged after the new leader had started (must be 0). */
  staleAcks: number;
  /** pause-leader: what the old leader answered a write after it resumed (e.g. FAILED_PRECONDITION …). */
  oldLeaderAnswer?: string;
}

/** Dimension of the points the rounds write. */
export const roundDimension = 8;
const callTimeoutMs = 10_000;

function vectorOf(seed: number): number[] {
  return Array.from({ length: roundDimension }, (_, i) => Math.sin(seed * 7.31 + i * 1.7));
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Writes batches through whichever replica leads, remembering each acknowledged point's value, and
 * re-sends a batch that failed (its outcome was unknown) to the leader found next.
 */
class Writer {
  /** Point id → the batch number of its last acknowledged value. */
  readonly acked = new Map<string, number>();
  maxSequence = 0n;
  ackedBatches = 0;
  unknownBatches = 0;
  firstAckAfter: number | undefined;
  /** When each write was acknowledged (Date.now()). */
  readonly ackTimes: number[] = [];

  constructor(
    private readonly set: ReplicaSet,
    private readonly collection: string,
    private readonly prefix: string,
    private readonly batchPoints: number,
  ) {}

  /** Writes batch `batch` (ids `prefix-<batch mod 40>-<j>`: later batches overwrite earlier ones). */
  async write(batch: number, leader: LeaderTracker, deadlineMs: number): Promise<void> {
    const ids = Array.from({ length: this.batchPoints }, (_, j) => `${this.prefix}-${batch % 40}-${j}`);
    const points = ids.map((id, j) => ({ id, vector: vectorOf(batch * 1000 + j), payload: { batch } }));
    const deadline = Date.now() + deadlineMs;
    while (Date.now() < deadline) {
      let target: VectorDbClient;
      try {
        target = this.set.client(await leader.current());
      } catch {
        leader.forget();
        continue;
      }
      try {
        const response = await target.points.upsert({ collection: this.collection, points }, { timeoutMs: callTimeoutMs });
        for (const id of ids) this.acked.set(id, batch);
        if (response.sequence > this.maxSequence) this.maxSequence = response.sequence;
        this.ackedBatches++;
        this.firstAckAfter ??= Date.now();
        this.ackTimes.push(Date.now());
        return;
      } catch {
        this.unknownBatches++;
        leader.forget();
        await sleep(50);
      }
    }
    throw new Error(`batch ${batch} was not acknowledged within ${deadlineMs} ms`);
  }

  /** Points whose acknowledged value is missing on replica `i` (read at the highest acknowledged sequence). */
  async lostOn(client: VectorDbClient): Promise<string[]> {
    const ids = [...this.acked.keys()];
    const found = new Map<string, number>();
    for (let at = 0; at < ids.length; at += 1_000) {
      const response = await client.points.get({ collection: this.collection, ids: ids.slice(at, at + 1_000), withVector: false, minSequence: this.maxSequence }, { timeoutMs: 30_000 });
      for (const point of response.points) found.set(point.id, Number((point.payload as { batch?: number } | undefined)?.batch));
    }
    // A later (unacknowledged, retried) value may stand over an acknowledged one only if it is newer.
    return ids.filter((id) => !((found.get(id) ?? -1) >= this.acked.get(id)!));
  }
}

/** Which replica the writes go to: the leader known, looked up again (up to 20 s) after a failure. */
interface LeaderTracker {
  current(): Promise<number>;
  /** Look the leader up again before the next write. */
  forget(): void;
  /** Never pick replica `i` (killed or stopped). */
  avoid(i: number): void;
}

function leaderTracker(set: ReplicaSet, initial: number): LeaderTracker {
  let known: number | undefined = initial;
  let avoided: number | undefined;
  return {
    async current() {
      if (known !== undefined && known !== avoided) return known;
      known = await set.leader(20_000, avoided);
      return known;
    },
    forget() {
      known = undefined;
    },
    avoid(i) {
      avoided = i;
      if (known === i) known = undefined;
    },
  };
}

/**
 * One round: a bulk load of `batches` batches through the leader; after a third of them the leader is
 * killed (SIGKILL); the load goes on through the replica that takes over. Then every acknowledged
 * point is read back from the new leader and from a follower, and the killed replica is started again.
 */
export async function killLeaderRound(set: ReplicaSet, collection: string, round: number, options: { batches?: number; batchPoints?: number } = {}): Promise<FailoverRound> {
  const batches = options.batches ?? 30;
  const writer = new Writer(set, collection, `k${round}`, options.batchPoints ?? 50);
  const old = await set.leader();
  const leader = leaderTracker(set, old);
  let killedAt = 0;
  for (let batch = 0; batch < batches; batch++) {
    if (batch === Math.floor(batches / 3)) {
      killedAt = Date.now();
      writer.firstAckAfter = undefined;
      // Not awaited: the kill lands while the next batches are on their way.
      void set.signal(old, "SIGKILL");
      leader.avoid(old);
    }
    await writer.write(batch, leader, 30_000);
  }
  const failoverMs = (writer.firstAckAfter ?? Date.now()) - killedAt;
  const now = await leader.current();
  const follower = set.replicas.findIndex((replica, i) => i !== now && i !== old && replica.server !== undefined);
  const lost = new Set(await writer.lostOn(set.client(now)));
  if (follower >= 0) for (const id of await writer.lostOn(set.client(follower))) lost.add(id);
  await set.startReplica(old);
  return { kind: "kill-leader", failoverMs, ackedBatches: writer.ackedBatches, ackedPoints: writer.acked.size, lost: [...lost], unknownBatches: writer.unknownBatches, staleAcks: 0 };
}

/**
 * One round: the leader is stopped (SIGSTOP) past its lease while a write to it is in flight; another
 * replica takes over and acknowledges writes; then the old leader resumes (SIGCONT). Its in-flight
 * write must fail (it cannot acknowledge after the new leader started), a new write to it must be
 * refused, and every acknowledged write must be on the new leader.
 */
export async function pauseLeaderRound(set: ReplicaSet, collection: string, round: number): Promise<FailoverRound> {
  const writer = new Writer(set, collection, `s${round}`, 20);
  const old = await set.leader();
  for (let batch = 0; batch < 5; batch++) await writer.write(batch, leaderTracker(set, old), 10_000);
  const stoppedAt = Date.now();
  await set.signal(old, "SIGSTOP");
  const oldClient = set.client(old);
  const inFlight = oldClient.points
    .upsert({ collection, points: [{ id: `s${round}-stale`, vector: vectorOf(round), payload: { batch: -1 } }] }, { timeoutMs: 60_000 })
    .then(
      () => ({ ok: true, at: Date.now(), answer: "OK" }),
      (error: unknown) => ({ ok: false, at: Date.now(), answer: describe(error) }),
    );
  const leader = leaderTracker(set, old);
  leader.avoid(old);
  writer.firstAckAfter = undefined;
  for (let batch = 5; batch < 10; batch++) await writer.write(batch, leader, 30_000);
  const newLeaderStartedBy = writer.firstAckAfter ?? Date.now();
  set.replicas[old]!.server?.child.kill("SIGCONT");
  const stale = await inFlight;
  let oldLeaderAnswer = "";
  try {
    await oldClient.points.upsert({ collection, points: [{ id: `s${round}-late`, vector: vectorOf(round + 1) }] }, { timeoutMs: 10_000 });
    oldLeaderAnswer = "OK";
  } catch (error) {
    oldLeaderAnswer = describe(error);
  }
  const now = await leader.current();
  const lost = new Set(await writer.lostOn(set.client(now)));
  for (const id of await writer.lostOn(oldClient)) lost.add(id);
  const staleAcks = (stale.ok && stale.at >= newLeaderStartedBy ? 1 : 0) + (oldLeaderAnswer === "OK" ? 1 : 0);
  return {
    kind: "pause-leader",
    failoverMs: newLeaderStartedBy - stoppedAt,
    ackedBatches: writer.ackedBatches,
    ackedPoints: writer.acked.size,
    lost: [...lost],
    unknownBatches: writer.unknownBatches,
    staleAcks,
    oldLeaderAnswer: stale.ok ? `in-flight write acknowledged at +${stale.at - stoppedAt} ms; later write: ${oldLeaderAnswer}` : `in-flight write: ${stale.answer}; later write: ${oldLeaderAnswer}`,
  };
}

/**
 * One round: NATS node `natsNode` is killed (SIGKILL) and `batches` batches are written through
 * whichever replica leads (a leader whose NATS connection was on that node may lose its lease while it
 * reconnects; the writes then go to the next leader); then the node is started again and every
 * acknowledged point is read back from the leader and a follower.
 */
export async function killNatsNodeRound(set: ReplicaSet, collection: string, round: number, natsNode: number, options: { batches?: number } = {}): Promise<FailoverRound> {
  const writer = new Writer(set, collection, `n${round}`, 20);
  const leader = leaderTracker(set, await set.leader());
  const killedAt = Date.now();
  set.nats.kill(natsNode, "SIGKILL");
  try {
    for (let batch = 0; batch < (options.batches ?? 20); batch++) await writer.write(batch, leader, 30_000);
  } finally {
    await set.nats.restart(natsNode);
  }
  const now = await leader.current();
  const lost = new Set(await writer.lostOn(set.client(now)));
  const follower = set.replicas.findIndex((replica, i) => i !== now && replica.server !== undefined);
  if (follower >= 0) for (const id of await writer.lostOn(set.client(follower))) lost.add(id);
  const times = [killedAt, ...writer.ackTimes];
  const outageMs = Math.max(...times.slice(1).map((t, i) => t - times[i]!));
  return { kind: "kill-nats-node", failoverMs: outageMs, ackedBatches: writer.ackedBatches, ackedPoints: writer.acked.size, lost: [...lost], unknownBatches: writer.unknownBatches, staleAcks: 0 };
}
