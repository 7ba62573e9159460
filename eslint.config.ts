import js from '@eslint/js';
import prettier from 'eslint-config-prettier';
import tseslint from 'typescript-eslint';

/**
 * Type-aware linting where it catches real bugs in this code base: promises nobody awaits
 * (a lost Redis error becomes an unhandled rejection), promises passed where a callback is
 * expected (Express 4-style handlers, event listeners), awaiting non-promises. Formatting is
 * prettier's job (eslint-config-prettier turns the overlapping rules off).
 */
export default tseslint.config(
  { ignores: ['dist/', 'coverage/', 'node_modules/', '.tools/', '.run/'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: { arguments: false } }],
      '@typescript-eslint/await-thenable': 'error',
      '@typescript-eslint/require-await': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    // Tests assert on supertest's and JSON.parse's deliberately untyped bodies (`res.body.error`),
    // and expect() is the type check there; the no-unsafe-* family stays on for service/src and ops/.
    files: ['service/test/**', 'smoke/**', 'bench/**', 'ops/**/*.test.ts'],
    rules: {
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
    },
  },
  {
    files: ['**/*.js', '**/*.mjs'],
    ...tseslint.configs.disableTypeChecked,
  },
  prettier,
);
