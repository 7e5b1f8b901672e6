import { ConfigurationError } from './config/load-config';

/**
 * Runs a process's start-up from its main.ts. A configuration it cannot use ends the process with one line naming
 * the variables (no stack trace: nothing in the code is wrong, and the launcher prints each line as it comes); any
 * other failure with its stack. Exit code 1 either way. The start runs inside the promise, so that a configuration
 * loaded synchronously is caught too.
 */
export function runMain(name: string, start: () => Promise<unknown>): void {
  Promise.resolve()
    .then(start)
    .catch((error: unknown) => {
      const text = error instanceof ConfigurationError ? error.message : error instanceof Error ? (error.stack ?? error.message) : String(error);
      process.stderr.write(`${name} failed to start: ${text}\n`);
      process.exit(1);
    });
}
