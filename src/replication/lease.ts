import type { KV } from "@nats-io/kv";
import { leaseKey } from "./log-names.js";

/** What the lease entry says: who leads, and where clients reach it. */
export interface LeaseHolder {
  nodeId: string;
  /** gRPC address (`host:port`). */
  address: string;
}

/**
 * The leader lease: one key in a JetStream KV bucket whose TTL (max age) is the lease length, so an
 * entry that is not renewed disappears after `ttlMs` on the NATS side. Taking it is a create (succeeds
 * only when the key is absent); renewing it is an update compare-and-set on the revision we hold. The
 * revision at which a node took the lease is its term: JetStream revisions only grow, so a later
 * leader always has a higher term.
 *
 * Local validity is measured on this node's monotonic clock from the moment a renewal was *sent*,
 * and ends at 3/4 of the TTL: the NATS side cannot expire the entry before `ttlMs` after it stored it,
 * which is after we sent it, so this node stops acting as leader before any other node can take over
 * (the quarter covers clock-rate error; clock offsets between machines do not matter).
 */
export class LeaderLease {
  private revision: number | undefined;
  private validUntil = 0;
  /** The term this node holds the lease with (the revision when it took it). */
  term: number | undefined;

  constructor(
    private readonly kv: KV,
    private readonly self: LeaseHolder,
    readonly ttlMs: number,
  ) {}

  /** Whether this node holds the lease and it is still valid by the local clock. */
  get held(): boolean {
    return this.term !== undefined && performance.now() < this.validUntil;
  }

  /** Who holds the lease now according to NATS, or undefined when nobody does. */
  async holder(): Promise<LeaseHolder | undefined> {
    const entry = await this.kv.get(leaseKey);
    if (entry === null || entry.operation !== "PUT" || entry.value.byteLength === 0) return undefined;
    try {
      return JSON.parse(new TextDecoder().decode(entry.value)) as LeaseHolder;
    } catch {
      return undefined;
    }
  }

  /**
   * Tries to take the lease (only when nobody holds it); resolves with the new term, or undefined when
   * someone else took it first.
   */
  async acquire(): Promise<number | undefined> {
    const sentAt = performance.now();
    try {
      const revision = await this.kv.create(leaseKey, JSON.stringify(this.self));
      this.revision = revision;
      this.term = revision;
      this.validUntil = sentAt + (this.ttlMs * 3) / 4;
      return revision;
    } catch {
      return undefined;
    }
  }

  /**
   * Renews the lease (compare-and-set on the revision held). Resolves false when it was lost: someone
   * else holds it, or it lapsed by the local clock; the term is then cleared.
   */
  async renew(): Promise<boolean> {
    if (this.revision === undefined) return false;
    const sentAt = performance.now();
    try {
      this.revision = await this.kv.update(leaseKey, JSON.stringify(this.self), this.revision);
      // Stored by NATS after it was sent, and nobody else held the key then: valid from the send on.
      this.validUntil = sentAt + (this.ttlMs * 3) / 4;
      return this.held;
    } catch (error) {
      if (/wrong last sequence/i.test(error instanceof Error ? error.message : String(error))) {
        this.drop();
        return false;
      }
      // NATS unreachable: keep the lease while it is valid locally; the next renewal may succeed.
      if (!this.held) this.drop();
      return this.held;
    }
  }

  /** Gives the lease up (deletes the entry if it is still ours), so a follower takes over at once. */
  async release(): Promise<void> {
    const revision = this.revision;
    this.drop();
    if (revision === undefined) return;
    await this.kv.delete(leaseKey, { previousSeq: revision }).catch(() => undefined);
  }

  /** Forgets the lease locally (it lapsed, or was lost). */
  drop(): void {
    this.term = undefined;
    this.revision = undefined;
    this.validUntil = 0;
  }
}
