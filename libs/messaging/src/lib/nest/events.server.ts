import { Catch, Logger } from '@nestjs/common';
import type { RpcExceptionFilter } from '@nestjs/common';
import { BaseRpcContext, Server } from '@nestjs/microservices';
import type { CustomTransportStrategy } from '@nestjs/microservices';
import type { EventEnvelope } from '@tessera/contracts';
import { runWithTraceparent, validTraceparent } from '@tessera/service-kit';
import { isObservable, lastValueFrom, throwError, type Observable } from 'rxjs';
import type { Gauge } from 'prom-client';
import { describeFailure, isTransientFailure, orderingKeyOf, type DeadLetter, type DeadLetters } from '../core/dead-letters';
import type { Inbox } from '../core/inbox';
import type { ConsumerHandle, DeliveredEvent, DeliveryMeta, EventTransport } from '../core/transport.port';

export interface EventsServerOptions {
  transport: EventTransport;
  groupId: string;
  topics: string[];
  /**
   * When given, a partition's batch is dispatched inside `inbox.runBatch`: every `inbox.run` of its handlers joins
   * one database transaction. Without it, each event is dispatched on its own.
   */
  inbox?: Inbox;
  /** Where events that keep failing are parked (see core/dead-letters.ts); without it a failing event is retried forever. */
  deadLetters?: DeadLetters;
  /** Failed attempts after which an event is parked (EVENT_MAX_ATTEMPTS, default 10); 0 never parks. */
  maxAttempts?: number;
  /** How often the keys with open letters are read again, for letters parked or resolved by another member (default 2000 ms). */
  deadLetterRefreshMs?: number;
  /** How long resolved letters are kept as a record before an hourly prune deletes them (default 30 days). */
  resolvedLetterRetentionMs?: number;
  /** `messaging_dead_letters{group}`: the group's open letters, as of the last refresh. */
  deadLetterGauge?: Gauge<'group' | 'schema'>;
}

export const DEFAULT_EVENT_MAX_ATTEMPTS = 10;

/** What a replay did: the letters that ran, the one that failed again (it stays open, first of its key), what is left. */
export interface ReplayOutcome {
  replayed: DeadLetter[];
  failed: DeadLetter | null;
  open: number;
}

/** Why a replay was not run: `not_consuming` (this instance runs no handlers), `replay_in_progress` (of the same key). */
export class ReplayRefusedError extends Error {
  constructor(
    readonly reason: 'not_consuming' | 'replay_in_progress',
    message: string,
  ) {
    super(message);
  }
}

/** Failing events whose attempts are counted at once; beyond it the oldest count is forgotten (it starts again). */
const MAX_COUNTED_FAILURES = 10_000;

/**
 * Global exception filter of the events microservice (wireDataAndEvents): a handler's error reaches EventsServer as
 * it was thrown. Nest's default RPC filter would turn it into `{status: 'error', message: 'Internal server error'}`,
 * hiding from the transport's log and from the dead letters what failed, and whether it was only an outage.
 */
@Catch()
export class EventHandlerErrorFilter implements RpcExceptionFilter<unknown> {
  catch(exception: unknown): Observable<never> {
    return throwError(() => exception);
  }
}

/** Second argument of an `@EventPattern` handler (`@Ctx()`): where the event came from. */
export class EventContext extends BaseRpcContext<[DeliveryMeta, EventEnvelope]> {
  get meta(): DeliveryMeta {
    return this.args[0];
  }
  get envelope(): EventEnvelope {
    return this.args[1];
  }
}

/**
 * Nest custom transport: consumes the context topics as one consumer group and dispatches by
 * `envelope.type` to `@EventPattern('<type>')` handlers. Unknown types are acknowledged and ignored
 * (DESIGN: consumers skip types they do not know); a handler that throws leaves the event
 * unacknowledged so the transport retries it.
 */
export class EventsServer extends Server implements CustomTransportStrategy {
  private readonly log = new Logger(EventsServer.name);
  private handle: ConsumerHandle | null = null;
  /** Handler per event type: Nest's pattern lookup normalizes and parses the pattern on every call. */
  private readonly handlers = new Map<string, ReturnType<Server['getHandlerByPattern']>>();
  /**
   * Keys with open dead letters, as last read plus those parked here since: a hint that spares every other event a
   * database read. A key found here is checked in the database (DeadLetters.holdIfOpen) before its event is held;
   * a key is dropped only by a refresh that read it resolved, never on the strength of a count taken here.
   */
  private held = new Set<string>();
  /** Keys parked while a refresh of `held` was reading, which its result must not drop. */
  private parkedDuringRefresh: Set<string> | null = null;
  /** The refresh in progress: refreshes never overlap, so an older read cannot replace a newer one. */
  private refreshing: Promise<void> | null = null;
  /** Failed attempts per event id, for the events failing now. */
  private readonly failures = new Map<string, number>();
  private refreshTimer: NodeJS.Timeout | null = null;
  private pruneTimer: NodeJS.Timeout | null = null;

  constructor(private readonly options: EventsServerOptions) {
    super();
  }

  private get maxAttempts(): number {
    return this.options.deadLetters ? (this.options.maxAttempts ?? DEFAULT_EVENT_MAX_ATTEMPTS) : 0;
  }

  async listen(callback: (...optionalParams: unknown[]) => unknown): Promise<void> {
    try {
      await this.options.transport.connect();
      if (this.options.deadLetters) {
        // Before the first event: a key parked before this start must hold its later events from the first one on.
        await this.refreshHeld();
        this.refreshTimer = setInterval(() => {
          this.refreshHeld().catch((err: unknown) => this.log.warn(`reading the open dead letters failed: ${String(err)}`));
        }, this.options.deadLetterRefreshMs ?? 2000);
        this.refreshTimer.unref();
        this.pruneTimer = setInterval(() => {
          this.pruneDeadLetters().catch((err: unknown) => this.log.warn(`pruning resolved dead letters failed: ${String(err)}`));
        }, 3_600_000);
        this.pruneTimer.unref();
      }
      this.handle = await this.options.transport.subscribe({
        groupId: this.options.groupId,
        topics: this.options.topics,
        handle: (event, meta) => this.handleOne(event, meta),
        ...(this.options.inbox ? { handleBatch: (events: DeliveredEvent[]) => this.dispatchBatch(events) } : {}),
        // A partition taken over from another member may have keys that member parked since the last refresh.
        ...(this.options.deadLetters ? { beforeAssigned: () => this.refreshHeld() } : {}),
      });
      callback();
    } catch (err) {
      this.stopTimers();
      callback(err);
    }
  }

  /** The consumer handle, for lag metrics (null before listen). */
  get consumer(): ConsumerHandle | null {
    return this.handle;
  }

  private handlerFor(type: string): ReturnType<Server['getHandlerByPattern']> {
    let handler = this.handlers.get(type);
    if (handler === undefined) {
      handler = this.getHandlerByPattern(type);
      this.handlers.set(type, handler);
    }
    return handler;
  }

  /**
   * The transport's handler for one event: holds it behind its key's open dead letters, else runs it, and parks it
   * once it has failed `maxAttempts` times for a reason that is not transient. Throwing leaves it to the transport's
   * retry.
   */
  async handleOne(event: EventEnvelope, meta: DeliveryMeta): Promise<void> {
    const letters = this.options.deadLetters;
    if (!letters) return this.dispatch(event, meta);
    const key = orderingKeyOf(event);
    if (this.held.has(key) && this.handlerFor(event.type) && (await letters.holdIfOpen(event, meta))) {
      this.log.warn(`held ${event.type} ${event.id} (key ${key}) behind its key's dead letters in group ${this.options.groupId}`);
      return;
    }
    try {
      await this.dispatch(event, meta);
      this.failures.delete(event.id);
    } catch (err) {
      if (this.maxAttempts === 0 || isTransientFailure(err)) throw err;
      const attempts = (this.failures.get(event.id) ?? 0) + 1;
      this.countFailure(event.id, attempts);
      if (attempts < this.maxAttempts) throw err;
      // Should parking itself fail (the database is away), the transport retries and the next failure parks.
      await letters.park(event, meta, err, attempts);
      // Only now that the letter is committed: a refresh reading from now on sees it; one that read before and is
      // still running takes it from parkedDuringRefresh; one that already ended is amended here.
      this.held.add(key);
      this.parkedDuringRefresh?.add(key);
      this.failures.delete(event.id);
      this.log.error(
        `parked ${event.type} ${event.id} (key ${key}, ${meta.topic}/${meta.partition}@${meta.offset}) as a dead letter of group ` +
          `${this.options.groupId} after ${attempts} failed attempts: ${err instanceof Error ? err.message : String(err)}`,
      );
    }
  }

  private countFailure(id: string, attempts: number): void {
    this.failures.delete(id);
    this.failures.set(id, attempts);
    if (this.failures.size > MAX_COUNTED_FAILURES) this.failures.delete(this.failures.keys().next().value as string);
  }

  /** Reads the keys with open letters again (letters parked or resolved elsewhere), and the open-letters gauge. */
  async refreshHeld(): Promise<void> {
    const letters = this.options.deadLetters;
    if (!letters) return;
    // A caller that needs a read taken after its call (a partition just assigned) waits for the one in progress,
    // then for its own.
    while (this.refreshing) await this.refreshing.catch(() => undefined);
    const parked = new Set<string>();
    this.parkedDuringRefresh = parked;
    this.refreshing = (async () => {
      try {
        const open = await letters.openKeys();
        for (const key of parked) open.keys.add(key);
        this.held = open.keys;
        this.options.deadLetterGauge?.set({ group: this.options.groupId }, open.letters);
      } finally {
        this.parkedDuringRefresh = null;
        this.refreshing = null;
      }
    })();
    return this.refreshing;
  }

  /**
   * Runs `key`'s open letters in order through their handlers, each in its own transaction as a redelivery would,
   * resolving each as it succeeds; stops at the first that fails again (it stays open, with the new error). Events
   * held behind the key meanwhile are parked after the last and run in the same pass.
   */
  async replay(key: string): Promise<ReplayOutcome> {
    const letters = this.requireDeadLetters();
    // Handlers are registered when the server is connected and listening: without them every letter would be
    // resolved as an event of a type nobody handles, without running.
    if (!this.handle) throw new ReplayRefusedError('not_consuming', `group ${this.options.groupId} runs no event handlers in this instance`);
    const outcome = await letters.withReplayLock(key, async (): Promise<ReplayOutcome> => {
      const replayed: DeadLetter[] = [];
      let failed: DeadLetter | null = null;
      for (let head = await letters.head(key); head; head = await letters.head(key)) {
        try {
          await this.dispatch(head.envelope, { topic: head.topic, partition: head.partition, offset: head.offset });
        } catch (err) {
          await letters.failedAgain(head, err);
          failed = { ...head, reason: 'failed', error: describeFailure(err), attempts: head.attempts + 1 };
          break;
        }
        if (await letters.resolve(head, 'replayed')) replayed.push({ ...head, resolution: 'replayed' });
      }
      return { replayed, failed, open: await letters.openCount(key) };
    });
    if (!outcome) throw new ReplayRefusedError('replay_in_progress', `a replay of key ${key} in group ${this.options.groupId} is already running`);
    return outcome;
  }

  /** Resolves a key's first open letter without running it; the letters held behind it stay until replayed. */
  async discard(letter: DeadLetter): Promise<{ discarded: boolean; open: number }> {
    const letters = this.requireDeadLetters();
    const discarded = await letters.resolve(letter, 'discarded');
    return { discarded, open: await letters.openCount(letter.partitionKey) };
  }

  private requireDeadLetters(): DeadLetters {
    const letters = this.options.deadLetters;
    if (!letters) throw new Error(`group ${this.options.groupId} keeps no dead letters`);
    return letters;
  }

  async dispatch(event: EventEnvelope, meta: DeliveryMeta): Promise<void> {
    const handler = this.handlerFor(event.type);
    if (!handler) {
      this.log.debug?.(`ignoring ${event.type} ${event.id}: no handler in group ${this.options.groupId}`);
      return;
    }
    // In the event's trace: the events its handler writes continue it.
    const result = await runWithTraceparent(validTraceparent(event.traceparent), () => handler(event, new EventContext([meta, event])));
    // Nest wraps handler errors (exception filters) into an erroring observable: surface them.
    if (isObservable(result)) await lastValueFrom(result, { defaultValue: undefined });
  }

  /**
   * One partition's events, in order, in one inbox transaction. The first handler that throws ends the batch: it
   * rolls back and the transport redoes the events one by one (see `Subscription.handleBatch`).
   * Events of types this group has no handler for are acknowledged without a transaction and are not recorded in the
   * inbox: a topic's other types (e.g. `inventory.stock.changed` for orders) would otherwise cost a row each.
   *
   * The batch is handled tenant by tenant, in tenant id order, each tenant's events in their own order. Events of
   * two tenants are of two aggregates, so no order between them is owed; handled interleaved, a batch could lock
   * tenant A's rows and then B's while another partition's batch locked B's and then A's, a deadlock that
   * PostgreSQL breaks by failing one batch.
   */
  async dispatchBatch(events: DeliveredEvent[]): Promise<void> {
    // Array.prototype.sort is stable: within a tenant the partition's order stays.
    let handled = events.filter((e) => this.handlerFor(e.event.type)).sort((a, b) => byTenant(a.event, b.event));
    // Events of keys with open dead letters go one by one (held, or run if the letters were resolved meanwhile),
    // in order, ahead of the batch: they share no key with it.
    if (this.held.size > 0 && handled.some((e) => this.held.has(orderingKeyOf(e.event)))) {
      const held = handled.filter((e) => this.held.has(orderingKeyOf(e.event)));
      handled = handled.filter((e) => !this.held.has(orderingKeyOf(e.event)));
      for (const { event, meta } of held) await this.handleOne(event, meta);
    }
    if (handled.length === 0) return;
    const inbox = this.options.inbox;
    if (!inbox) {
      for (const { event, meta } of handled) await this.dispatch(event, meta);
      return;
    }
    await inbox.runBatch(
      async () => {
        for (const { event, meta } of handled) await this.dispatch(event, meta);
      },
      { events: handled.map((e) => e.event) },
    );
  }

  /** Deletes letters resolved longer ago than the retention: they are a record of what an operator did, not events. */
  async pruneDeadLetters(): Promise<number> {
    return this.requireDeadLetters().pruneResolved(this.options.resolvedLetterRetentionMs ?? 30 * 86_400_000);
  }

  private stopTimers(): void {
    if (this.refreshTimer) clearInterval(this.refreshTimer);
    if (this.pruneTimer) clearInterval(this.pruneTimer);
    this.refreshTimer = null;
    this.pruneTimer = null;
  }

  async close(): Promise<void> {
    this.stopTimers();
    await this.refreshing?.catch(() => undefined);
    const handle = this.handle;
    this.handle = null;
    if (handle) await handle.stop();
  }

  on(): never {
    throw new Error('EventsServer does not emit transport events');
  }

  unwrap<T>(): T {
    return this.options.transport as unknown as T;
  }
}

function byTenant(a: EventEnvelope, b: EventEnvelope): number {
  const x = a.tenantid ?? '';
  const y = b.tenantid ?? '';
  return x < y ? -1 : x > y ? 1 : 0;
}
