// Drives `npm start` itself (tools/launcher) on scratch ports and a scratch data folder,
// and exercises the public API through the gateway like an API consumer would.
module.exports = {
  displayName: 'platform-e2e',
  preset: '../../jest.preset.js',
  rootDir: __dirname,
  testTimeout: 240_000,
  maxWorkers: 1,
};
