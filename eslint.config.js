// Lint rules for src/, test/, bench/ and examples/: typescript-eslint's type-checked recommendations
// (they catch promises nobody awaits, which in a server means lost errors), formatting left to Prettier.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'test-results/', 'mail/'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      // An async method of a promise-returning interface may not need to await: `async` still
      // turns its throws into rejections, which is what callers of that interface expect.
      '@typescript-eslint/require-await': 'off',
      // Control characters are what much of our input checking is about.
      'no-control-regex': 'off',
      // An AbortSignal's reason is whatever the caller aborted with, and is passed on as it is.
      '@typescript-eslint/prefer-promise-reject-errors': [
        'error',
        { allowThrowingAny: true, allowThrowingUnknown: true },
      ],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      // node:test's test() and describe() return promises the runner itself awaits.
      '@typescript-eslint/no-floating-promises': [
        'error',
        {
          allowForKnownSafeCalls: [
            { from: 'package', package: 'node:test', name: ['test', 'describe', 'it', 'suite'] },
          ],
        },
      ],
    },
  },
  {
    // The examples are the user's code, run by their own runners: linted without type information.
    files: ['**/*.js', 'examples/**'],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: {
      ...tseslint.configs.disableTypeChecked.languageOptions,
      globals: { process: 'readonly', console: 'readonly' },
    },
  },
  // Playwright reads a fixture's dependencies from its destructuring pattern, even an empty one.
  { files: ['examples/playwright/**'], rules: { 'no-empty-pattern': 'off' } },
);
