import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { testScratchDir } from '../lib/scratch-dir.ts';
import { Supervisor, processStartTime } from './supervisor.ts';

const runDir = () => testScratchDir('supervisor-');

describe('processStartTime', () => {
  it('when the process exists, then its kernel start time; when it does not, undefined', () => {
    expect(processStartTime(process.pid)).toMatch(/^\d+$/);
    expect(processStartTime(2 ** 22 + 7)).toBeUndefined();
  });
});

describe('Supervisor', () => {
  it('when a process is started, then it runs detached and is recorded; stop ends it and forgets it', async () => {
    const dir = runDir();
    const supervisor = new Supervisor(dir);
    const log = join(dir, 'sleep.log');

    const pid = await supervisor.start('sleeper', 'sleep', ['30'], { env: process.env, stdout: log, stderr: log });

    expect(supervisor.pidOf('sleeper')).toBe(pid);
    expect(await supervisor.stop('sleeper', { timeoutMs: 5000 })).toBe(true);
    expect(supervisor.isRunning('sleeper')).toBe(false);
    expect(processStartTime(pid)).toBeUndefined();
    expect(existsSync(join(dir, 'sleeper.process.json'))).toBe(false);
  });

  it('when the recorded PID now belongs to another process (recycled), then it is not ours and is never signalled', async () => {
    const dir = runDir();
    const supervisor = new Supervisor(dir);
    // Our own PID with a start time that is not ours: what a recycled PID looks like.
    writeFileSync(join(dir, 'stranger.process.json'), JSON.stringify({ pid: process.pid, startTime: '1' }));

    expect(supervisor.pidOf('stranger')).toBeUndefined();
    expect(await supervisor.stop('stranger', { timeoutMs: 100 })).toBe(false);
  });

  it('when a process ignores TERM, then it is KILLed after the timeout', async () => {
    const dir = runDir();
    const supervisor = new Supervisor(dir);
    const log = join(dir, 'stubborn.log');
    await supervisor.start('stubborn', 'sh', ['-c', "trap '' TERM; sleep 30 & wait"], { env: process.env, stdout: log, stderr: log });
    let killed = false;

    await supervisor.stop('stubborn', { timeoutMs: 300, onKill: () => (killed = true) });

    expect(killed).toBe(true);
    expect(supervisor.isRunning('stubborn')).toBe(false);
  });

  it('when the command exits at once, then start fails pointing at its log', async () => {
    const dir = runDir();
    const log = join(dir, 'fails.log');

    await expect(new Supervisor(dir).start('fails', 'sh', ['-c', 'echo boom >&2; exit 3'], { env: process.env, stdout: log, stderr: log })).rejects.toThrow(
      /exited at once/,
    );
    expect(readFileSync(log, 'utf8')).toContain('boom');
  });
});
