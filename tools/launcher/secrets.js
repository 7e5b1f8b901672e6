// Secrets for the embedded default, generated on first start and kept in the ignored .data folder
// so a restart keeps logins, tokens and encrypted credentials valid. Anything set in the environment wins.
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');

function generate() {
  const { privateKey } = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwk = { ...privateKey.export({ format: 'jwk' }), kid: `k-${crypto.randomBytes(4).toString('hex')}`, alg: 'ES256', use: 'sig' };
  return {
    POSTGRES_PASSWORD: crypto.randomBytes(18).toString('base64url'),
    DB_APP_PASSWORD: crypto.randomBytes(18).toString('base64url'),
    INTERNAL_TOKEN_SECRET: crypto.randomBytes(32).toString('base64url'),
    CREDENTIALS_ENCRYPTION_KEYS: `c-${crypto.randomBytes(4).toString('hex')}:${crypto.randomBytes(32).toString('base64')}`,
    JWT_SIGNING_KEYS: JSON.stringify([jwk]),
  };
}

function loadOrCreateSecrets(dataDir) {
  const file = path.join(dataDir, 'secrets.json');
  if (fs.existsSync(file)) return JSON.parse(fs.readFileSync(file, 'utf8'));
  fs.mkdirSync(dataDir, { recursive: true });
  const secrets = generate();
  fs.writeFileSync(file, JSON.stringify(secrets, null, 2), { mode: 0o600 });
  return secrets;
}

module.exports = { loadOrCreateSecrets };
