/** Jest runs TypeScript through ts-jest in transpile-only mode; `npm test` type-checks separately first. */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.ts$': ['ts-jest', { isolatedModules: true }] },
  testTimeout: 60000,
  maxWorkers: 2,
  globalSetup: '<rootDir>/test/global-setup.js',
};
