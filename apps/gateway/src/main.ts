import 'reflect-metadata';
import { shutdownService } from '@tessera/service-kit';
import { loadGatewayConfig } from './config';
import { createGatewayApp } from './gateway-app';
import { GATEWAY_LOGGER } from './gateway.tokens';
import type { Logger } from 'pino';

/** The public port: `node -r @swc-node/register apps/gateway/src/main.ts`. */
async function main(): Promise<void> {
  const config = loadGatewayConfig();
  const app = await createGatewayApp(config);
  await app.listen(config.port);
  const logger = app.get<Logger>(GATEWAY_LOGGER);
  logger.info({ port: config.port, upstreams: config.upstreams.map(({ name, url }) => ({ name, url })) }, 'gateway listening');
  const onSignal = (signal: NodeJS.Signals): void => {
    shutdownService(app, { timeoutMs: config.shutdownTimeoutMs, signal }).then(
      () => {
        logger.flush();
        process.exit(0);
      },
      (error: unknown) => {
        logger.fatal({ err: error }, 'Shutdown failed');
        logger.flush();
        process.exit(1);
      },
    );
  };
  // `once`: a second signal falls through to Node's default and ends the process at once.
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
