import { describe, expect } from '@jest/globals';
import { commandLines } from '../testkit/proc.ts';
import { itWhen } from './support/conditional.ts';
import { baseUrl, envFile, envValues } from './support/stack.ts';

/** Values worth hiding: the env file's values, each secret of a list on its own; shorter ones are words like "info". */
const secretish = Object.values(envValues)
  .flatMap((value) => value.split(','))
  .map((value) => value.trim())
  .filter((value) => value.length >= 8);

const isLocal = ['localhost', '127.0.0.1', '[::1]'].includes(baseUrl.hostname);

describe('no secret on a command line', () => {
  itWhen(isLocal)(
    `when the stack runs, then no process's command line contains a value from ${envFile} (every local user can read /proc/*/cmdline)`,
    () => {
      const leaks = commandLines().filter(({ args }) => secretish.some((value) => args.includes(value)));

      expect(secretish.length).toBeGreaterThan(3);
      expect(commandLines().length).toBeGreaterThan(3);
      expect(leaks.map(({ pid, args }) => `${pid}: ${args.slice(0, 80)}`)).toEqual([]);
    },
  );
});
