import { Injectable } from '@nestjs/common';

export type ShutdownHook = () => Promise<void> | void;

/**
 * Work to do on shutdown after HTTP has drained, run in registration order: e.g. flush the outbox relay, then
 * close the transport, then the database.
 */
@Injectable()
export class ShutdownRegistry {
  private readonly hooks: { name: string; fn: ShutdownHook }[] = [];

  registerShutdownHook(name: string, fn: ShutdownHook): void {
    this.hooks.push({ name, fn });
  }

  list(): readonly { name: string; fn: ShutdownHook }[] {
    return [...this.hooks];
  }
}
