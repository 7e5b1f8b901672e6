import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { Server as NetServer } from 'node:net';
import type { INestApplication } from '@nestjs/common';
import { Logger } from '@nestjs/common';
import { HealthRegistry } from '../health/health.registry';
import { ShutdownRegistry } from './shutdown.registry';

export interface ShutdownOptions {
  /**
   * How long the whole shutdown may take: in-flight requests get up to half of it before their connections are cut,
   * the hooks and the closing of the app (consumers, outbox relay: see shutdownDeadline) what is left.
   */
  timeoutMs: number;
  signal?: string;
}

/** Least time a hook is given when the requests took the budget. */
const MIN_HOOK_MS = 250;

/**
 * Where the process's shutdown deadline lives while a shutdown runs. On globalThis, under a registered symbol,
 * because tools/launcher/exit-with-launcher.js (plain JS, preloaded) reads it too: a launcher that dies during a
 * shutdown must not send the SIGTERM that would cut it short (a second signal ends the process at once).
 */
const SHUTDOWN_DEADLINE = Symbol.for('tessera.shutdown.deadline');
const shared = globalThis as Record<symbol, number | undefined>;

/**
 * When the shutdown under way must be done (a Date.now() time), or undefined when none is. What runs while Nest
 * closes the app (the outbox relay's final flush) keeps within it, so the process ends before whoever sent SIGTERM
 * loses patience (`npm start` kills at SHUTDOWN_TIMEOUT_MS + 5 s, Kubernetes at its grace period).
 */
export function shutdownDeadline(): number | undefined {
  return shared[SHUTDOWN_DEADLINE];
}

const inProgress = new WeakMap<INestApplication, Promise<void>>();
const IDLE_SWEEP_MS = 50;
// net.Server's close: stops listening, unlike http.Server's close() it leaves idle keep-alive connections open.
const netClose = NetServer.prototype.close;
/** How long keep-alive connections idle at shutdown stay open for a request already on its way (at most). */
const IDLE_LINGER_MS = 1_000;

/** Per server, the responses not yet done: those a shutdown must still tell to close their connection. */
const openResponses = new WeakMap<Server, Set<ServerResponse>>();

/**
 * Keeps count of `server`'s unfinished responses, so that a shutdown can have each one close its connection when
 * answered. Without it a request already running when the shutdown began is answered `keep-alive`, and the client
 * may send its next request on that connection just as the drain closes it. Bootstrap calls it before listening.
 */
export function trackResponses(server: Server): void {
  if (openResponses.has(server)) return;
  const open = new Set<ServerResponse>();
  openResponses.set(server, open);
  server.prependListener('request', (_req: IncomingMessage, res: ServerResponse) => {
    open.add(res);
    res.once('close', () => open.delete(res));
  });
}

/** Answered with `Connection: close` and the connection closed after it (Node reads this when it writes the head). */
function closeWhenAnswered(res: ServerResponse): void {
  if (!res.headersSent) res.shouldKeepAlive = false;
}

/**
 * Resolves when `server` has closed, or after `timeoutMs` (then the remaining connections are cut).
 *
 * A client may be sending on a keep-alive connection that is idle at this moment (the gateway's pooled ones to a
 * service, under load, are idle for microseconds at a time). http.Server's close() destroys idle connections at
 * once, and such a request is lost as a reset the client cannot tell from a failure. So: stop accepting connections
 * (net.Server's close, which leaves open ones alone), answer whatever arrives on the open ones for a short while,
 * each answer with `Connection: close` so the client does not send on it again, then close those still idle.
 */
function drain(server: Server, timeoutMs: number): Promise<'drained' | 'timed-out'> {
  return new Promise((resolve) => {
    if (!server.listening) {
      resolve('drained');
      return;
    }
    for (const res of openResponses.get(server) ?? []) closeWhenAnswered(res);
    // Prepended: a handler that answers synchronously must not have sent its headers before this runs.
    server.prependListener('request', (_req: IncomingMessage, res: ServerResponse) => closeWhenAnswered(res));
    let sweep: NodeJS.Timeout | undefined;
    const linger = setTimeout(() => {
      server.closeIdleConnections();
      // Keep-alive sockets turn idle once their in-flight request is answered; closing them lets close() finish.
      sweep = setInterval(() => server.closeIdleConnections(), IDLE_SWEEP_MS);
    }, Math.min(IDLE_LINGER_MS, Math.floor(timeoutMs / 2)));
    const stop = () => {
      clearTimeout(linger);
      clearInterval(sweep);
      clearTimeout(deadline);
    };
    const deadline = setTimeout(() => {
      stop();
      server.closeAllConnections();
      resolve('timed-out');
    }, timeoutMs);
    netClose.call(server, () => {
      stop();
      resolve('drained');
    });
  });
}

async function withTimeout(fn: () => Promise<void> | void, timeoutMs: number, what: string): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      Promise.resolve().then(fn),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what} timed out after ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Graceful shutdown: report not ready, stop accepting connections, let in-flight requests finish (up to the
 * timeout), run the registered shutdown hooks in order, then close the Nest application. Calling it again returns
 * the same promise. The caller exits the process afterwards (bootstrapService does on SIGTERM/SIGINT).
 */
export function shutdownService(app: INestApplication, options: ShutdownOptions): Promise<void> {
  const running = inProgress.get(app);
  if (running) return running;
  const done = runShutdown(app, options);
  inProgress.set(app, done);
  return done;
}

async function runShutdown(app: INestApplication, { timeoutMs, signal }: ShutdownOptions): Promise<void> {
  const logger = new Logger('Shutdown');
  logger.log(`Shutting down${signal ? ` on ${signal}` : ''}`);
  app.get(HealthRegistry).markShuttingDown();
  const deadline = Date.now() + timeoutMs;
  shared[SHUTDOWN_DEADLINE] = deadline;

  const drainMs = Math.ceil(timeoutMs / 2);
  const outcome = await drain(app.getHttpServer() as Server, drainMs);
  if (outcome === 'timed-out') logger.warn(`In-flight requests still running after ${drainMs} ms were cut`);

  for (const hook of app.get(ShutdownRegistry).list()) {
    try {
      await withTimeout(hook.fn, Math.max(MIN_HOOK_MS, deadline - Date.now()), `Shutdown hook "${hook.name}"`);
      logger.log(`Shutdown hook "${hook.name}" done`);
    } catch (error) {
      // One failing hook must not keep the others (e.g. closing the database) from running.
      logger.error(`Shutdown hook "${hook.name}" failed`, error instanceof Error ? error.stack : String(error));
    }
  }
  try {
    await app.close();
  } finally {
    delete shared[SHUTDOWN_DEADLINE];
  }
  logger.log('Shutdown complete');
}
