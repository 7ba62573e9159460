import { describe, expect, it } from '@jest/globals';
import { ClientOfflineError, ErrorReply, SocketTimeoutError, TimeoutError } from 'redis';
import { isRedisUnavailable } from '../../src/infra/redis-client.ts';
import { RedisDeadlineError } from '../../src/infra/redis-client.ts';

describe('isRedisUnavailable', () => {
  it('when node-redis reports a closed, offline, timed-out or deadline-exceeded client, then true', () => {
    for (const error of [
      new ClientOfflineError(),
      new TimeoutError(),
      new SocketTimeoutError(1000),
      new RedisDeadlineError(800),
    ]) {
      expect({ error: error.constructor.name, unavailable: isRedisUnavailable(error) }).toEqual({
        error: error.constructor.name,
        unavailable: true,
      });
    }
  });

  it('when Redis replies OOM, READONLY, MISCONF, LOADING, BUSY or NOAUTH, then true', () => {
    for (const reply of [
      'OOM command not allowed',
      "READONLY You can't write against a read only replica.",
      'MISCONF Redis is configured to save RDB snapshots',
      'LOADING Redis is loading',
      'BUSY Redis is busy',
      'NOAUTH Authentication required.',
    ]) {
      expect({ reply, unavailable: isRedisUnavailable(new ErrorReply(reply)) }).toEqual({ reply, unavailable: true });
    }
  });

  it('when the socket is refused or reset, then true; for programming errors and other replies, false', () => {
    expect(isRedisUnavailable(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }))).toBe(true);
    expect(
      isRedisUnavailable(new ErrorReply('WRONGTYPE Operation against a key holding the wrong kind of value')),
    ).toBe(false);
    expect(isRedisUnavailable(new TypeError('x is undefined'))).toBe(false);
    expect(isRedisUnavailable('string')).toBe(false);
  });
});
