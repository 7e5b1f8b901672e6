module.exports = {
  displayName: 'testing',
  preset: '../../jest.preset.js',
  rootDir: __dirname,
  globalSetup: '<rootDir>/src/postgres/jest-global-setup.js',
  globalTeardown: '<rootDir>/src/postgres/jest-global-teardown.js',
};
