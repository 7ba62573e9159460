import { createHash } from 'node:crypto';
import { ErrorReply } from 'redis';
import type { RedisClient } from './redis-client.ts';

export type ScriptReply = string | number | null | ScriptReply[];

/**
 * A Lua script run by its SHA1 (EVALSHA), loaded with EVAL the first time a Redis has not seen
 * it (after a restart or a failover). node-redis's defineScript does the same but must be
 * wired into client creation; this works with whatever client bootstrap opened (standalone or
 * Sentinel) and keeps each script next to the code that needs it. Scripts run atomically:
 * they are how a check and the write it guards happen together.
 */
export class LuaScript {
  readonly source: string;
  readonly sha: string;

  constructor(source: string) {
    this.source = source;
    this.sha = createHash('sha1').update(source).digest('hex');
  }

  async run(redis: RedisClient, keys: string[], args: Array<string | number>): Promise<ScriptReply> {
    const options = { keys, arguments: args.map(String) };
    try {
      return (await redis.evalSha(this.sha, options)) as ScriptReply;
    } catch (error) {
      if (!(error instanceof ErrorReply) || !error.message.startsWith('NOSCRIPT')) throw error;
      return (await redis.eval(this.source, options)) as ScriptReply;
    }
  }
}
