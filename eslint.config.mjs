// Lint for the whole workspace. The module-boundary rule is the architecture in code:
// an app never imports another app, and one context reaches another only through libs/contracts.
import nx from '@nx/eslint-plugin';
import tseslint from 'typescript-eslint';

/**
 * The module-boundary rule. `testingInProduction: false` is for the code that runs in production (apps' and libs'
 * `src`, but their specs and test-support folders): it may not reach `type:testing` (embedded PostgreSQL, the Kafka
 * mock), which only tests, tools and the e2e suite may.
 */
function boundaries({ testingInProduction }) {
  const testing = testingInProduction ? ['type:testing'] : [];
  return [
    'error',
    {
      enforceBuildableLibDependency: true,
      allow: [],
      depConstraints: [
        // kinds of project
        { sourceTag: 'type:app', onlyDependOnLibsWithTags: ['type:util', 'type:contracts', ...testing] },
        { sourceTag: 'type:util', onlyDependOnLibsWithTags: ['type:util', 'type:contracts', ...testing] },
        { sourceTag: 'type:testing', onlyDependOnLibsWithTags: ['type:util', 'type:contracts'] },
        { sourceTag: 'type:contracts', onlyDependOnLibsWithTags: ['type:contracts'] },
        { sourceTag: 'type:tool', onlyDependOnLibsWithTags: ['type:util', 'type:contracts', 'type:testing'] },
        { sourceTag: 'type:e2e', onlyDependOnLibsWithTags: ['type:contracts', 'type:testing'] },
        // areas: a context sees itself and the shared libs, never another context
        { sourceTag: 'scope:shared', onlyDependOnLibsWithTags: ['scope:shared'] },
        { sourceTag: 'scope:gateway', onlyDependOnLibsWithTags: ['scope:gateway', 'scope:shared'] },
        { sourceTag: 'scope:identity', onlyDependOnLibsWithTags: ['scope:identity', 'scope:shared'] },
        { sourceTag: 'scope:inventory', onlyDependOnLibsWithTags: ['scope:inventory', 'scope:shared'] },
        { sourceTag: 'scope:catalog', onlyDependOnLibsWithTags: ['scope:catalog', 'scope:shared'] },
        { sourceTag: 'scope:orders', onlyDependOnLibsWithTags: ['scope:orders', 'scope:shared'] },
        { sourceTag: 'scope:billing', onlyDependOnLibsWithTags: ['scope:billing', 'scope:shared'] },
        { sourceTag: 'scope:tools', onlyDependOnLibsWithTags: ['scope:tools', 'scope:shared'] },
        // black-box tests of the running platform: HTTP only, no app code
        { sourceTag: 'scope:e2e', onlyDependOnLibsWithTags: ['scope:shared'] },
      ],
    },
  ];
}

export default [
  ...nx.configs['flat/base'],
  ...nx.configs['flat/typescript'],
  ...nx.configs['flat/javascript'],
  { ignores: ['**/dist', '**/node_modules', 'tmp/**', '.data/**', '.nx/**', '**/*.mjs'] },
  {
    // The launcher, the test helpers and Jest's setup files are plain CommonJS run by Node.
    files: ['**/*.js'],
    languageOptions: { sourceType: 'commonjs' },
    rules: {
      '@typescript-eslint/no-require-imports': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    files: ['**/*.ts'],
    rules: {
      '@nx/enforce-module-boundaries': boundaries({ testingInProduction: true }),
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-restricted-syntax': [
        'error',
        { selector: "CallExpression[callee.object.name=/^(it|describe|test)$/][callee.property.name=/^(only|skip)$/]", message: 'No focused or skipped tests.' },
      ],
    },
  },
  {
    // Code that runs in production never loads the test harnesses.
    files: ['apps/*/src/**/*.ts', 'libs/*/src/**/*.ts'],
    ignores: ['**/*.spec.ts', 'apps/platform-e2e/**', 'libs/testing/**', 'libs/*/src/lib/testing/**'],
    rules: { '@nx/enforce-module-boundaries': boundaries({ testingInProduction: false }) },
  },
  {
    // Tests read loosely typed JSON responses; production code stays free of `any`.
    files: ['**/*.spec.ts', 'apps/platform-e2e/**/*.ts', '**/testing/**/*.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
];
