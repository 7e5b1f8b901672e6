import { Catch, Logger } from '@nestjs/common';
import type { RpcExceptionFilter } from '@nestjs/common';
import { BaseRpcContext, Server } from '@nestjs/microservices';
import type { CustomTransportStrategy } from '@nestjs/microservices';
import type { EventEnvelope } from '@tessera/contracts';
import { runWithTraceparent, validTraceparent } from '@tessera/service-kit';
import { isObservable, lastValueFrom, throwError, type Observable } from 'rxjs';
import type { DeadLetterKeeper, ReplayOutcome } from '../core/dead-letter-keeper';
import type { DeadLetter } from '../core/dead-letters';
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
  /** Parks events that keep failing and holds their keys (core/dead-letter-keeper.ts); without it they are retried forever. */
  deadLetters?: DeadLetterKeeper;
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
  constructor(private readonly options: EventsServerOptions) {
    super();
  }

  async listen(callback: (...optionalParams: unknown[]) => unknown): Promise<void> {
    try {
      await this.options.transport.connect();
      const keeper = this.options.deadLetters;
      this.handle = await this.options.transport.subscribe({
        groupId: this.options.groupId,
        topics: this.options.topics,
        handle: (event, meta) => this.handleOne(event, meta),
        ...(this.options.inbox ? { handleBatch: (events: DeliveredEvent[]) => this.dispatchBatch(events) } : {}),
        // Before the first event of any partition given (at start too): its previous owner, or this member before a
        // restart, may have parked keys of it since the last read.
        ...(keeper ? { beforeAssigned: () => keeper.refresh() } : {}),
      });
      keeper?.start();
      callback();
    } catch (err) {
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

  /** The transport's handler for one event alone: through the dead letters' keeper when the event has a handler. */
  async handleOne(event: EventEnvelope, meta: DeliveryMeta): Promise<void> {
    const keeper = this.options.deadLetters;
    if (!keeper || !this.handlerFor(event.type)) return this.dispatch(event, meta);
    return keeper.handle(event, meta, this.run);
  }

  private readonly run = (event: EventEnvelope, meta: DeliveryMeta): Promise<void> => this.dispatch(event, meta);

  /**
   * Replays `key`'s open dead letters through this instance's handlers (DeadLetterKeeper.replay). Refused when this
   * instance registered no handlers (every letter would be resolved as an event nobody handles, without running) or
   * while another replay of the key runs.
   */
  async replay(key: string): Promise<ReplayOutcome> {
    const keeper = this.requireKeeper();
    if (!this.handle) throw new ReplayRefusedError('not_consuming', `group ${this.options.groupId} runs no event handlers in this instance`);
    const outcome = await keeper.replay(key, this.run);
    if (!outcome) throw new ReplayRefusedError('replay_in_progress', `a replay of key ${key} in group ${this.options.groupId} is already running`);
    return outcome;
  }

  /** Resolves a key's first open letter without running it (DeadLetterKeeper.discard). */
  discard(letter: DeadLetter): Promise<{ discarded: boolean; open: number }> {
    return this.requireKeeper().discard(letter);
  }

  /** Deletes letters resolved longer ago than their retention (DeadLetterKeeper.prune; hourly on its own). */
  pruneDeadLetters(): Promise<number> {
    return this.requireKeeper().prune();
  }

  private requireKeeper(): DeadLetterKeeper {
    const keeper = this.options.deadLetters;
    if (!keeper) throw new Error(`group ${this.options.groupId} keeps no dead letters`);
    return keeper;
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
    const keeper = this.options.deadLetters;
    if (keeper) {
      // Events of keys with open dead letters go one by one (held, or run if the letters were resolved meanwhile),
      // in order, ahead of the batch: they share no key with it.
      const { held, rest } = keeper.splitHeld(handled);
      for (const { event, meta } of held) await keeper.handle(event, meta, this.run);
      handled = rest;
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

  async close(): Promise<void> {
    await this.options.deadLetters?.stop();
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
