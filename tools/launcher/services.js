// The processes `npm start` runs, in start order. A new service is one entry here (see README, "Adding a service").
// Each service's port can be moved with <NAME>_PORT (e.g. IDENTITY_PORT) when the default is taken: start.js reads
// and checks it into `port`.
function service(name, defaultPort) {
  return {
    name,
    defaultPort,
    port: defaultPort,
    urlEnv: `${name.toUpperCase()}_URL`,
    main: `apps/${name}/src/main.ts`,
    migrate: `apps/${name}/src/migrate.ts`,
  };
}

module.exports = [
  service('identity', 3101),
  service('catalog', 3102),
  service('inventory', 3103),
  service('orders', 3104),
  service('billing', 3106),
];

module.exports.gateway = { name: 'gateway', main: 'apps/gateway/src/main.ts', defaultPort: 3000 };
