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
  if (fs.existsSync(file)) {
    try {
      return JSON.parse(fs.readFileSync(file, 'utf8'));
    } catch (e) {
      // Not regenerated: the database in this folder was set up with the passwords the file held.
      throw new Error(`${file} is not valid JSON (${e.message}); restore it, or remove the whole data folder to start afresh`);
    }
  }
  fs.mkdirSync(dataDir, { recursive: true });
  const secrets = generate();
  // Written aside, then renamed: a start interrupted here leaves no half-written file behind.
  const partial = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(partial, JSON.stringify(secrets, null, 2), { mode: 0o600 });
  fs.renameSync(partial, file);
  return secrets;
}

module.exports = { loadOrCreateSecrets };
