/**
 * The platform operator's backfill of read models fed by identity's events: calls identity's internal
 * `POST /internal/republish` directly (never through the gateway, which hides `/internal`) with the internal
 * credential, and prints `{tenants, vendors}`.
 *
 *   npx nx run identity:republish                      # every tenant
 *   npx nx run identity:republish --args="<tenant id>"  # one tenant
 *
 * Environment: IDENTITY_URL (default http://127.0.0.1:$IDENTITY_PORT, port 3101 when unset); INTERNAL_TOKEN_SECRET (the platform's, as
 * the gateway's), else the embedded default's
 * `$TESSERA_DATA_DIR/secrets.json` (default `.data`). Exits 1 unless identity answers 2xx.
 */
import { republishToolMain, runOperatorTool } from '@tessera/service-kit';
import { IDENTITY_DEFAULT_PORT } from './tenant-status-cli';

if (require.main === module) {
  runOperatorTool('identity:republish', republishToolMain({ name: 'identity:republish', service: 'identity', defaultPort: IDENTITY_DEFAULT_PORT }));
}
