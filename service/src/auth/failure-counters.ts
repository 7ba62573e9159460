import { LuaScript } from '../infra/lua-script.ts';
import type { RedisClient } from '../infra/redis-client.ts';

/** One fixed-window counter: a key, how many it allows, and the window it counts in. */
export interface Counter<Name extends string = string> {
  name: Name;
  key: string;
  limit: number;
  windowMs: number;
}

/**
 * Check every counter, then count on all of them, or on none: the first counter at its limit
 * refuses the attempt and nothing is written (a refused attempt costs Redis nothing, so a
 * flood of them cannot fill it or move anyone else's counters).
 *   KEYS counters   ARGV limit, window ms per counter   ->  {index of the refusing counter (0 = none), its pttl}
 */
const RESERVE = new LuaScript(`
for i = 1, #KEYS do
  if tonumber(redis.call('GET', KEYS[i]) or '0') >= tonumber(ARGV[2 * i - 1]) then
    local ttl = redis.call('PTTL', KEYS[i])
    if ttl < 0 then ttl = tonumber(ARGV[2 * i]) end
    return {i, ttl}
  end
end
for i = 1, #KEYS do
  if redis.call('INCR', KEYS[i]) == 1 then redis.call('PEXPIRE', KEYS[i], ARGV[2 * i]) end
end
return {0, 0}
`);

/** Gives reservations back: 'reset' clears a counter, 'refund' takes one count off.  KEYS counters  ARGV action per counter */
const SETTLE = new LuaScript(`
for i = 1, #KEYS do
  if ARGV[i] == 'reset' then
    redis.call('DEL', KEYS[i])
  elseif redis.call('EXISTS', KEYS[i]) == 1 and redis.call('DECR', KEYS[i]) <= 0 then
    redis.call('DEL', KEYS[i])
  end
end
return 1
`);

export interface Reservation<Name extends string = string> {
  /** The counter that refused, when one did. */
  refusedBy?: Counter<Name>;
  retryAfterMs: number;
}

/**
 * Fixed-window failure counters on Redis, reserved atomically in one script. Why not
 * rate-limiter-flexible (used here before): it consumes each limiter separately, so an attempt
 * refused by one still counted on the others; the brute-force defence needs all-or-nothing.
 */
export class FailureCounters {
  private readonly redis: RedisClient;

  constructor(deps: { redis: RedisClient }) {
    this.redis = deps.redis;
  }

  async reserve<Name extends string>(counters: Array<Counter<Name>>): Promise<Reservation<Name>> {
    const args = counters.flatMap((c) => [c.limit, c.windowMs]);
    const [index, ttl] = (await RESERVE.run(
      this.redis,
      counters.map((c) => c.key),
      args,
    )) as [number, number];
    return index === 0 ? { retryAfterMs: 0 } : { refusedBy: counters[index - 1], retryAfterMs: ttl };
  }

  async settle(actions: Array<{ counter: Counter; action: 'reset' | 'refund' }>): Promise<void> {
    if (actions.length === 0) return;
    await SETTLE.run(
      this.redis,
      actions.map((a) => a.counter.key),
      actions.map((a) => a.action),
    );
  }
}
