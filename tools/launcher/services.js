// The processes `npm start` runs, in start order. A new service is one entry here (see README, "Adding a service").
// Each service's port can be moved with <NAME>_PORT (e.g. IDENTITY_PORT) when the default is taken.
const port = (name, fallback) => Number(process.env[`${name.toUpperCase()}_PORT`] ?? fallback);

module.exports = [
  { name: 'identity', port: port('identity', 3101), urlEnv: 'IDENTITY_URL', main: 'apps/identity/src/main.ts', migrate: 'apps/identity/src/migrate.ts' },
];

module.exports.gateway = { name: 'gateway', main: 'apps/gateway/src/main.ts', defaultPort: 3000 };
