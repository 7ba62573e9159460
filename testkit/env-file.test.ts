import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { readEnvFile, updateEnvFile } from './env-file.ts';
import { testScratchDir } from './scratch-dir.ts';

const tempFile = (content: string, mode = 0o600) => {
  const file = join(testScratchDir('env-file-'), '.env');
  writeFileSync(file, content, { mode });
  return file;
};

describe('readEnvFile (util.parseEnv)', () => {
  it('when a file has comments, quotes, CRLF line ends and export, then values come out as written', () => {
    const file = tempFile('# comment\r\nA=1\r\nB="two words"\nC=\'single\'\nexport D=4\n\nE=\n');

    expect(readEnvFile(file)).toEqual({ A: '1', B: 'two words', C: 'single', D: '4', E: '' });
  });

  it('when the file does not exist, then it reads as empty', () => {
    expect(readEnvFile('/nonexistent/.env')).toEqual({});
  });
});

describe('updateEnvFile', () => {
  it('when a key is set, then its first line is replaced, later duplicates dropped, other lines and the mode kept', () => {
    const file = tempFile('# keep me\nA=1\nS=old\nB=2\nS=older\n', 0o640);

    updateEnvFile(file, { S: 'new', N: 'added' });

    expect(readFileSync(file, 'utf8')).toBe('# keep me\nA=1\nS=new\nB=2\nN=added\n');
    expect(statSync(file).mode & 0o777).toBe(0o640);
    expect(readEnvFile(file).S).toBe('new');
  });

  it('when a value would need quoting, then it refuses rather than write something parsed differently', () => {
    const file = tempFile('A=1\n');

    expect(() => updateEnvFile(file, { A: 'two words' })).toThrow(/refusing/);
    expect(() => updateEnvFile(file, { 'BAD KEY': 'x' })).toThrow(/refusing/);
    expect(readFileSync(file, 'utf8')).toBe('A=1\n');
  });
});
