import { describe, expect, it } from '@jest/globals';
import { prettifier, prettyLogLine } from './pretty-logs.ts';

const prettify = prettifier(false);
const serviceLine = JSON.stringify({ level: 'info', time: '2026-11-29T23:47:52.927Z', service: 'authstack', event: 'login.success', msg: 'signed in' });

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
