/**
 * A consumer process for the contract suite's "consumer dies inside a handler" case: it consumes
 * through the inbox and, on an event whose data has `hang: true`, reports "in-handler" to the parent
 * over IPC and never finishes, so the parent can SIGKILL it mid-handler (its transaction still open).
 * Run with `node -r @swc-node/register`; configured through the environment.
 */
import { DataSource } from 'typeorm';
import type { EventEnvelope } from '@tessera/contracts';
import { Inbox } from '../core/inbox';
import { createTransport } from '../create-transport';
import { recordEffect } from './contract-effects';

async function main(): Promise<void> {
  const env = process.env;
  const need = (name: string): string => {
    const v = env[name];
    if (!v) throw new Error(`${name} is required`);
    return v;
  };
  const dataSource = new DataSource({ type: 'postgres', url: need('CONTRACT_DB_URL') });
  await dataSource.initialize();
  const inbox = new Inbox({ dataSource, schema: need('CONTRACT_SCHEMA'), groupId: need('CONTRACT_GROUP') });
  const transport = createTransport(env, { clientId: 'contract-child' });
  await transport.connect();
  const handle = async (event: EventEnvelope): Promise<void> => {
    await inbox.run(event, async (tx) => {
      await recordEffect(tx.manager, need('CONTRACT_SCHEMA'), event, 'child');
      if ((event.data as { hang?: boolean }).hang) {
        process.send?.({ kind: 'in-handler', id: event.id });
        await new Promise<never>(() => undefined);
      }
    });
  };
  await transport.subscribe({
    groupId: need('CONTRACT_GROUP'),
    topics: [need('CONTRACT_TOPIC')],
    handle,
    // Killed inside a batch: the batch's transaction (with the events before the hanging one) dies with it.
    handleBatch: (events) =>
      inbox.runBatch(
        async () => {
          for (const { event } of events) await handle(event);
        },
        { events: events.map((e) => e.event) },
      ),
  });
  process.send?.({ kind: 'ready' });
}

main().catch((err) => {
  console.error('contract child consumer failed', err);
  process.exit(1);
});
