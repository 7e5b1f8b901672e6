// Identity service entry point: `node -r @swc-node/register apps/identity/src/main.ts` (PORT, default 3101).
import { loadConfig } from '@tessera/service-kit';
import { identityConfigSchema } from './config';
import { startIdentity } from './identity-app';

startIdentity({ config: loadConfig(identityConfigSchema) }).catch((error: unknown) => {
  process.stderr.write(
    `identity failed to start: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exit(1);
});
