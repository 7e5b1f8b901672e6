// The processes `npm start` runs, in start order. A new service is one entry here (see README, "Adding a service").
module.exports = [
  { name: 'identity', port: 3101, urlEnv: 'IDENTITY_URL', main: 'apps/identity/src/main.ts', migrate: 'apps/identity/src/migrate.ts' },
];

module.exports.gateway = { name: 'gateway', main: 'apps/gateway/src/main.ts', defaultPort: 3000 };
