module.exports = {
  displayName: 'messaging',
  preset: '../../jest.preset.js',
  rootDir: __dirname,
  globalSetup: '<rootDir>/../testing/src/postgres/jest-global-setup.js',
  globalTeardown: '<rootDir>/../testing/src/postgres/jest-global-teardown.js',
  testTimeout: 120000,
};
