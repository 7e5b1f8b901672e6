import { Logger } from '@nestjs/common';
import { BaseRpcContext, Server } from '@nestjs/microservices';
import type { CustomTransportStrategy } from '@nestjs/microservices';
import type { EventEnvelope } from '@tessera/contracts';
import { runWithTraceparent, validTraceparent } from '@tessera/service-kit';
import { isObservable, lastValueFrom } from 'rxjs';
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
      this.handle = await this.options.transport.subscribe({
        groupId: this.options.groupId,
        topics: this.options.topics,
        handle: (event, meta) => this.dispatch(event, meta),
        ...(this.options.inbox ? { handleBatch: (events: DeliveredEvent[]) => this.dispatchBatch(events) } : {}),
      });
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
    const handled = events.filter((e) => this.handlerFor(e.event.type)).sort((a, b) => byTenant(a.event, b.event));
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
