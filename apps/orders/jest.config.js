// Real PostgreSQL for every test file: one embedded cluster per run (libs/testing), a fresh database per file.
module.exports = {
  displayName: 'orders',
  preset: '../../jest.preset.js',
  rootDir: __dirname,
  globalSetup: '<rootDir>/../../libs/testing/src/postgres/jest-global-setup.js',
  globalTeardown: '<rootDir>/../../libs/testing/src/postgres/jest-global-teardown.js',
  setupFiles: ['<rootDir>/../../libs/testing/src/keep-published-outbox.js'],
  testTimeout: 60000,
};
