import { Injectable } from '@nestjs/common';

/** A readiness check: resolves (or returns true) when the dependency is usable; throws or returns false otherwise. */
export type ReadinessCheck = () => Promise<boolean | void> | boolean | void;

export interface CheckResult {
  name: string;
  status: 'up' | 'down';
  error?: string;
  durationMs: number;
}

export interface ReadinessReport {
  ready: boolean;
  shuttingDown: boolean;
  checks: CheckResult[];
}

const DEFAULT_CHECK_TIMEOUT_MS = 3_000;

/** Readiness checks (database, transport...) and the shutting-down flag that `/health/ready` reports. */
@Injectable()
export class HealthRegistry {
  private readonly checks = new Map<string, { fn: ReadinessCheck; timeoutMs: number }>();
  private shuttingDown = false;

  registerReadinessCheck(name: string, fn: ReadinessCheck, options: { timeoutMs?: number } = {}): void {
    if (this.checks.has(name)) throw new Error(`Readiness check "${name}" is already registered`);
    this.checks.set(name, { fn, timeoutMs: options.timeoutMs ?? DEFAULT_CHECK_TIMEOUT_MS });
  }

  /** From now on the service reports not ready, so load balancers stop sending it traffic. */
  markShuttingDown(): void {
    this.shuttingDown = true;
  }

  get isShuttingDown(): boolean {
    return this.shuttingDown;
  }

  async check(): Promise<ReadinessReport> {
    const checks = await Promise.all(
      [...this.checks.entries()].map(([name, { fn, timeoutMs }]) => runCheck(name, fn, timeoutMs)),
    );
    return {
      ready: !this.shuttingDown && checks.every((check) => check.status === 'up'),
      shuttingDown: this.shuttingDown,
      checks,
    };
  }
}

async function runCheck(name: string, fn: ReadinessCheck, timeoutMs: number): Promise<CheckResult> {
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    const result = await Promise.race([Promise.resolve().then(fn), timeout]);
    const durationMs = Math.round(performance.now() - started);
    if (result === false) return { name, status: 'down', error: 'check reported not ready', durationMs };
    return { name, status: 'up', durationMs };
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    return { name, status: 'down', error: message, durationMs: Math.round(performance.now() - started) };
  } finally {
    clearTimeout(timer);
  }
}
