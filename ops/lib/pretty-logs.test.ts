import { describe, expect, it } from '@jest/globals';
import { prettifier, prettyLogLine, terminalSafe } from './pretty-logs.ts';

const prettify = prettifier(false);
const serviceLine = JSON.stringify({
  level: 'info',
  time: '2026-11-29T23:47:52.927Z',
  service: 'authstack',
  event: 'login.success',
  msg: 'signed in',
});

describe('prettyLogLine', () => {
  it('when a line is the service JSON, then it becomes one readable line with the level, message and fields', () => {
    const out = prettyLogLine(serviceLine, prettify);

    expect(out).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: signed in/);
    expect(out).toContain('"event":"login.success"');
    expect(out).not.toContain('\n');
    expect(out).not.toContain('service:');
  });

  it('when compose prefixes the line with its container, then the prefix stays in front', () => {
    expect(prettyLogLine(`service_1  | ${serviceLine}`, prettify)).toMatch(/^service_1 {2}\| \[.*INFO: signed in/);
  });

  it('when a line is not the service JSON (nginx JSON, Redis text, broken JSON), then it passes unchanged', () => {
    for (const line of [
      'nginx_1    | {"time":"2026-11-29T23:47:52+00:00","status":200,"request":"GET / HTTP/1.1"}',
      'redis_1    | 1:M 29 Nov 2026 23:47:52.927 * Ready to accept connections tcp',
      '{"level":"info", broken',
      '==> .run/native/service.log <==',
    ]) {
      expect(prettyLogLine(line, prettify)).toBe(line);
    }
  });
});

describe('terminalSafe (what make logs prints on a terminal)', () => {
  it('when a logged field carries C1 control characters (U+009B is CSI) or C0 ones, then they are shown as \\u00XX, never raw', () => {
    const agent = 'evil\u009b31mRED\u0085next\u001b[2J';
    const line = JSON.stringify({
      level: 'info',
      time: '2026-11-29T23:47:52.927Z',
      msg: 'request completed',
      req: { userAgent: agent },
    });
    const passedThrough = `redis_1 | a raw line with \u009b and \u001b[2J`;

    const shown = terminalSafe(prettyLogLine(line, prettify), true);
    const raw = terminalSafe(passedThrough, false);

    // eslint-disable-next-line no-control-regex -- finding control characters is the point
    expect(shown).not.toMatch(/[\u0000-\u0008\u000a-\u001f\u007f-\u009f]/);
    expect(shown).toContain('evil\\u009b31mRED\\u0085next');
    expect(raw).toBe('redis_1 | a raw line with \\u009b and \\u001b[2J');
    expect(terminalSafe('plain text, tabs\tstay', false)).toBe('plain text, tabs\tstay');
  });
});
