/**
 * The platform operator's backfill of read models fed by catalog events: calls the catalog's internal
 * `POST /internal/republish` directly (never through the gateway, which hides `/internal`) with the internal
 * credential, and prints `{tenants, products, variants}`.
 *
 *   npx nx run catalog:republish                      # every tenant
 *   npx nx run catalog:republish --args="<tenant id>"  # one tenant
 *
 * Environment: CATALOG_URL (default http://127.0.0.1:$CATALOG_PORT, port 3102 when unset); INTERNAL_TOKEN_SECRET (the platform's, as
 * the gateway's), else the embedded default's
 * `$TESSERA_DATA_DIR/secrets.json` (default `.data`). Exits 1 unless the catalog answers 2xx.
 */
import { republishToolMain, runOperatorTool } from '@tessera/service-kit';

if (require.main === module) {
  runOperatorTool('catalog:republish', republishToolMain({ name: 'catalog:republish', service: 'catalog', defaultPort: 3102 }));
}
