import type { EventEnvelope } from '@tessera/contracts';
import type { Gauge } from 'prom-client';
import { describeFailure, isTransientFailure, orderingKeyOf, type DeadLetter, type DeadLetters } from './dead-letters';
import type { DeliveredEvent, DeliveryMeta } from './transport.port';

/** Runs one event through its handler (EventsServer.dispatch); throws when the handler failed. */
export type RunEvent = (event: EventEnvelope, meta: DeliveryMeta) => Promise<void>;

export const DEFAULT_EVENT_MAX_ATTEMPTS = 10;

/** Failing events whose attempts are counted at once; beyond it the oldest count is forgotten (it starts again). */
const MAX_COUNTED_FAILURES = 10_000;

export interface DeadLetterKeeperOptions {
  store: DeadLetters;
  /** Failed attempts after which an event is parked (EVENT_MAX_ATTEMPTS); 0 never parks. */
  maxAttempts: number;
  /** How often the keys with open letters are read again, for letters parked or resolved elsewhere (default 2000 ms). */
  refreshMs?: number;
  /** How long resolved letters are kept as a record before an hourly prune deletes them (default 30 days). */
  resolvedRetentionMs?: number;
  /** `messaging_dead_letters{group}`: the group's open letters, as of the last refresh. */
  gauge?: Gauge<'group' | 'schema'>;
  log: { warn(message: string): void; error(message: string): void };
}

/** What a replay did: the letters that ran, the one that failed again (it stays open, first of its key), what is left. */
export interface ReplayOutcome {
  replayed: DeadLetter[];
  failed: DeadLetter | null;
  open: number;
}

/**
 * A consumer group's side of the dead letters (the store is DeadLetters): counts each failing event's attempts and
 * parks it after the last, holds the later events of a key with open letters, and replays or discards a key's
 * letters for an operator. EventsServer puts every event it handles alone through `handle`.
 */
export class DeadLetterKeeper {
  /**
   * Keys with open dead letters, as last read plus those parked here since: a hint that spares every other event a
   * database read. A key found here is checked in the database (DeadLetters.holdIfOpen) before its event is held;
   * a key is dropped only by a refresh that read it resolved, never on the strength of a count taken here.
   */
  private held = new Set<string>();
  /** Keys parked while a refresh was reading, which its result must not drop. */
  private parkedDuringRefresh: Set<string> | null = null;
  /** The read in progress, and the one queued behind it that every later caller shares. */
  private reading: Promise<void> | null = null;
  private queued: Promise<void> | null = null;
  /** Failed attempts per event id, for the events failing now. */
  private readonly failures = new Map<string, number>();
  private timers: NodeJS.Timeout[] = [];

  constructor(private readonly o: DeadLetterKeeperOptions) {}

  get store(): DeadLetters {
    return this.o.store;
  }

  /** Starts the periodic refresh of the held keys and the hourly prune of resolved letters. */
  start(): void {
    const every = (ms: number, what: string, work: () => Promise<unknown>) => {
      const timer = setInterval(() => work().catch((err: unknown) => this.o.log.warn(`${what} failed: ${String(err)}`)), ms);
      timer.unref();
      this.timers.push(timer);
    };
    every(this.o.refreshMs ?? 2000, 'reading the open dead letters', () => this.refresh());
    every(3_600_000, 'pruning resolved dead letters', () => this.prune());
  }

  async stop(): Promise<void> {
    for (const timer of this.timers) clearInterval(timer);
    this.timers = [];
    await this.queued?.catch(() => undefined);
    await this.reading?.catch(() => undefined);
  }

  /**
   * Holds `event` behind its key's open letters, else runs it, and parks it once it has failed `maxAttempts` times
   * for a reason that is not transient. Throwing leaves it to the transport's retry.
   */
  async handle(event: EventEnvelope, meta: DeliveryMeta, run: RunEvent): Promise<void> {
    const key = orderingKeyOf(event);
    if (this.held.has(key) && (await this.o.store.holdIfOpen(event, meta))) {
      this.o.log.warn(`held ${event.type} ${event.id} (key ${key}) behind its key's dead letters in group ${this.o.store.groupId}`);
      return;
    }
    try {
      await run(event, meta);
      this.failures.delete(event.id);
    } catch (err) {
      if (this.o.maxAttempts === 0 || isTransientFailure(err)) throw err;
      const attempts = (this.failures.get(event.id) ?? 0) + 1;
      this.countFailure(event.id, attempts);
      if (attempts < this.o.maxAttempts) throw err;
      // Should parking itself fail (the database is away), the transport retries and the next failure parks.
      await this.o.store.park(event, meta, err, attempts);
      // Only now that the letter is committed: a refresh reading from now on sees it; one that read before and is
      // still running takes it from parkedDuringRefresh; one that already ended is amended here.
      this.held.add(key);
      this.parkedDuringRefresh?.add(key);
      this.failures.delete(event.id);
      this.o.log.error(
        `parked ${event.type} ${event.id} (key ${key}, ${meta.topic}/${meta.partition}@${meta.offset}) as a dead letter of group ` +
          `${this.o.store.groupId} after ${attempts} failed attempts: ${err instanceof Error ? err.message : String(err)}`,
      );
    }
  }

  /** Splits a batch into the events of keys with open letters (to go through `handle`) and the rest. */
  splitHeld<T extends DeliveredEvent>(events: T[]): { held: T[]; rest: T[] } {
    if (this.held.size === 0) return { held: [], rest: events };
    const held: T[] = [];
    const rest: T[] = [];
    for (const e of events) (this.held.has(orderingKeyOf(e.event)) ? held : rest).push(e);
    return { held, rest };
  }

  private countFailure(id: string, attempts: number): void {
    this.failures.delete(id);
    this.failures.set(id, attempts);
    if (this.failures.size > MAX_COUNTED_FAILURES) this.failures.delete(this.failures.keys().next().value as string);
  }

  /**
   * Reads the keys with open letters again (letters parked or resolved elsewhere), and the open-letters gauge. What
   * it resolves to was read after the call: a call made while a read runs waits for the next one, which all such
   * calls share (a member given many partitions at once reads once or twice, not once per partition).
   */
  refresh(): Promise<void> {
    if (!this.reading) {
      this.reading = this.read().finally(() => (this.reading = null));
      return this.reading;
    }
    this.queued ??= this.reading
      .catch(() => undefined)
      .then(() => {
        this.queued = null;
        return this.refresh();
      });
    return this.queued;
  }

  private async read(): Promise<void> {
    const parked = new Set<string>();
    this.parkedDuringRefresh = parked;
    try {
      const open = await this.o.store.openKeys();
      for (const key of parked) open.keys.add(key);
      this.held = open.keys;
      this.o.gauge?.set({ group: this.o.store.groupId }, open.letters);
    } finally {
      this.parkedDuringRefresh = null;
    }
  }

  /**
   * Runs `key`'s open letters in order through `run`, each in its own transaction as a redelivery would, resolving
   * each as it succeeds; stops at the first that fails again (it stays open, with the new error). Events held behind
   * the key meanwhile are parked after the last and run in the same pass. Null when another replay of the key runs.
   */
  replay(key: string, run: RunEvent): Promise<ReplayOutcome | null> {
    const store = this.o.store;
    return store.withReplayLock(key, async () => {
      const replayed: DeadLetter[] = [];
      let failed: DeadLetter | null = null;
      for (let head = await store.head(key); head; head = await store.head(key)) {
        try {
          await run(head.envelope, { topic: head.topic, partition: head.partition, offset: head.offset });
        } catch (err) {
          await store.failedAgain(head, err);
          failed = { ...head, reason: 'failed', error: describeFailure(err), attempts: head.attempts + 1 };
          break;
        }
        if (await store.resolve(head, 'replayed')) replayed.push({ ...head, resolution: 'replayed' });
      }
      return { replayed, failed, open: await store.openCount(key) };
    });
  }

  /** Resolves a key's first open letter without running it; the letters held behind it stay until replayed. */
  async discard(letter: DeadLetter): Promise<{ discarded: boolean; open: number }> {
    const discarded = await this.o.store.resolve(letter, 'discarded');
    return { discarded, open: await this.o.store.openCount(letter.partitionKey) };
  }

  /** Deletes letters resolved longer ago than the retention: they are a record of what an operator did, not events. */
  prune(): Promise<number> {
    return this.o.store.pruneResolved(this.o.resolvedRetentionMs ?? 30 * 86_400_000);
  }
}
