module.exports = {
  displayName: 'service-kit',
  preset: '../../jest.preset.js',
  rootDir: __dirname,
  // NestJS 12 and jose ship ESM only; Jest on Node 20 cannot require ESM, so SWC compiles them to CommonJS too.
  transformIgnorePatterns: ['/node_modules/(?!(@nestjs|jose)/)'],
};
