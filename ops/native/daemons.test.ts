import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { testScratchDir } from '../../testkit/scratch-dir.ts';
import { Daemons } from './daemons.ts';

/** Running (a zombie no one reaped yet is not: it has ended). */
const alive = (pid: number) =>
  existsSync(`/proc/${pid}`) && !/^\d+ \(.*\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));

/** One daemon `name` running `program`, in a fresh run directory, with its log file there. */
function oneDaemon(name: string, program: string) {
  const dir = testScratchDir('daemons-');
  return { dir, daemons: new Daemons(dir, { [name]: program }), log: join(dir, `${name}.log`) };
}

describe('Daemons (start-stop-daemon)', () => {
  it('when a process is started, then it runs detached and is recorded; stop ends it and forgets it', async () => {
    const { dir, daemons, log } = oneDaemon('sleeper', 'sleep');

    const pid = await daemons.start('sleeper', ['30'], { log });

    expect(daemons.pidOf('sleeper')).toBe(pid);
    expect(await daemons.stop('sleeper', { timeoutMs: 5000 })).toBe(true);
    expect(daemons.isRunning('sleeper')).toBe(false);
    expect(alive(pid)).toBe(false);
    expect(existsSync(join(dir, 'sleeper.pid'))).toBe(false);
  });

  it('when the recorded PID now belongs to another program (recycled), then it is not ours and is never signalled', async () => {
    const { dir, daemons } = oneDaemon('stranger', 'sleep');
    // Our own PID (node, not sleep) in its pid file: what a recycled PID looks like.
    writeFileSync(join(dir, 'stranger.pid'), `${process.pid}\n`);

    expect(daemons.pidOf('stranger')).toBeUndefined();
    expect(await daemons.stop('stranger', { timeoutMs: 100 })).toBe(false);
    expect(daemons.signal('stranger', 'SIGTERM')).toBe(false);
  });

  it('when a process ignores TERM, then it is KILLed after the timeout', async () => {
    const { daemons, log } = oneDaemon('stubborn', 'sh');
    const pid = await daemons.start('stubborn', ['-c', "trap '' TERM; sleep 30 & wait"], { log });

    await daemons.stop('stubborn', { timeoutMs: 500 });

    expect(daemons.isRunning('stubborn')).toBe(false);
    expect(alive(pid)).toBe(false);
  });

  it('when a daemon is signalled, then the signal reaches it (nginx reloads on HUP this way)', async () => {
    const { daemons, log } = oneDaemon('listener', 'sh');
    await daemons.start('listener', ['-c', "trap 'echo got HUP' HUP; while :; do sleep 0.1; done"], { log });

    const sent = daemons.signal('listener', 'SIGHUP');
    await new Promise((resolve) => setTimeout(resolve, 300));
    await daemons.stop('listener', { timeoutMs: 2000 });

    expect(sent).toBe(true);
    expect(readFileSync(log, 'utf8')).toContain('got HUP');
  });

  it('when the command exits at once, then start fails pointing at its log', async () => {
    const { daemons, log } = oneDaemon('fails', 'sh');

    await expect(daemons.start('fails', ['-c', 'echo boom >&2; exit 3'], { log })).rejects.toThrow(/exited at once/);
    expect(readFileSync(log, 'utf8')).toContain('boom');
  });
});
