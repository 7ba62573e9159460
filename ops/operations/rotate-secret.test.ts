import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { readEnvFile } from '../../testkit/env-file.ts';
import { testScratchDir } from '../../testkit/scratch-dir.ts';
import { rotateSessionSecret, rotatedSecrets } from './rotate-secret.ts';

describe('rotatedSecrets', () => {
  it('when rotating, then the fresh secret comes first and the newest old ones follow, up to keep', () => {
    expect(rotatedSecrets('b,c,d', 'a', 2)).toEqual(['a', 'b']);
    expect(rotatedSecrets('b', 'a', 3)).toEqual(['a', 'b']);
    expect(rotatedSecrets(' b , c ', 'a', 3)).toEqual(['a', 'b', 'c']);
  });

  it('when keep is below 2, then it refuses: the previous secret must keep verifying cookies', () => {
    expect(() => rotatedSecrets('b', 'a', 1)).toThrow(/ROTATE_KEEP/);
  });
});

describe('rotateSessionSecret', () => {
  it('when the env file is rotated, then only SESSION_SECRETS changes and the previous secret is second', () => {
    const file = join(testScratchDir('rotate-'), '.env');
    const old = 'o'.repeat(43);
    writeFileSync(file, `REDIS_PASSWORD=pw\nSESSION_SECRETS=${old}\nLOG_LEVEL=info\n`, { mode: 0o600 });

    rotateSessionSecret(file, 2);

    const after = readEnvFile(file);
    const [fresh, previous] = after.SESSION_SECRETS!.split(',');
    expect(previous).toBe(old);
    expect(fresh).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(after).toMatchObject({ REDIS_PASSWORD: 'pw', LOG_LEVEL: 'info' });
  });
});
