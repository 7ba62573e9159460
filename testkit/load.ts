import { setTimeout as sleep } from 'node:timers/promises';
import { atPort, httpClient, type HttpClient, type HttpResponse, type RequestInit } from './http.ts';

/** An edge to send through: a node's own address and HTTPS port. */
export interface Edge {
  address: string;
  port: number;
}

export interface Credentials {
  username: string;
  password: string;
}

/** One request of the load, as the client saw it. */
export interface Outcome {
  /** ms since the traffic started */
  at: number;
  client: number;
  kind: 'login' | 'me' | 'sessions' | 'logout' | 'readyz';
  /** HTTP status, or 0 when no answer came (refused, reset, timed out) */
  status: number;
  ms: number;
  /** a signed-in /api/me answered 401: the session was lost */
  lostSession?: boolean;
  error?: string;
}

const EXPECTED: Record<Outcome['kind'], number[]> = {
  login: [200],
  me: [200],
  sessions: [200],
  logout: [204],
  readyz: [200],
};

export const isFailure = (o: Outcome): boolean => o.kind !== 'readyz' && !EXPECTED[o.kind].includes(o.status);

/** How each client of the load behaves; the defaults are the swarm drills'. */
export interface LoadShape {
  /** A request that takes longer counts as a hang (status 0). */
  timeoutMs?: number;
  /**
   * Send through these nodes in turn, and to the next one when a node refuses the connection,
   * as a browser does with the several addresses of one name (nothing was sent, so nothing is
   * replayed). Without edges: the origin's host, resolved.
   */
  edges?: Edge[];
  /** Reads of /api/me per sign-in (15). */
  reads?: number;
  /** Pause after each read, ms (60). */
  pauseMs?: number;
  /** Reads of /api/sessions per sign-in, after those of /api/me (0). */
  sessionReads?: number;
  /** The shortest sign-in cycle, ms: paces the logins (0). */
  minCycleMs?: number;
}

/**
 * What people do, from several clients at once, through the edge: sign in, read /api/me a
 * number of times, sign out, again. Logins stay well under the edge's 10/s login limit. Every
 * answer is recorded, to be judged afterwards: by the swarm drills (ops/swarm/drills.ts) and the
 * soak (bench/soak.ts). A separate poller records /readyz, so a drill can show that readiness
 * followed an outage.
 */
export class Traffic {
  readonly outcomes: Outcome[] = [];
  private running = false;
  private readonly loops: Array<Promise<void>> = [];
  private readonly started = Date.now();
  /** One client per edge; without edges, one that resolves the origin's host. */
  private readonly edges: Array<{ edge?: Edge; send: HttpClient['send'] }>;
  private nextEdge = 0;
  private readonly base: string;
  private readonly users: Credentials[];
  private readonly shape: Required<Omit<LoadShape, 'edges' | 'timeoutMs'>>;

  constructor(base: string, caFile: string, users: Credentials[], options: LoadShape = {}) {
    this.base = base;
    this.users = users;
    const { timeoutMs = 15_000, reads = 15, pauseMs = 60, sessionReads = 0, minCycleMs = 0 } = options;
    this.shape = { reads, pauseMs, sessionReads, minCycleMs };
    this.edges = (options.edges ?? [undefined]).map((edge) => ({
      edge,
      send: httpClient({ caFiles: [caFile], timeoutMs, connectTo: edge?.address }).send,
    }));
  }

  /** ms since the traffic started: the time axis of every outcome */
  now(): number {
    return Date.now() - this.started;
  }

  start(options: { readyz?: boolean } = {}): void {
    this.running = true;
    this.users.forEach((user, client) => this.loops.push(this.clientLoop(client, user)));
    if (options.readyz) this.loops.push(this.readyzLoop());
  }

  async stop(): Promise<Outcome[]> {
    this.running = false;
    await Promise.all(this.loops);
    return this.outcomes;
  }

  private async request(
    client: number,
    kind: Outcome['kind'],
    path: string,
    init: RequestInit = {},
  ): Promise<HttpResponse | undefined> {
    const at = this.now();
    try {
      const response = await this.send(`${this.base}${path}`, init);
      this.outcomes.push({
        at,
        client,
        kind,
        status: response.status,
        ms: this.now() - at,
        lostSession: kind === 'me' && response.status === 401,
      });
      return response;
    } catch (error) {
      this.outcomes.push({
        at,
        client,
        kind,
        status: 0,
        ms: this.now() - at,
        error: error instanceof Error ? error.message : String(error),
      });
      return undefined;
    }
  }

  private async send(url: string, init: RequestInit): Promise<HttpResponse> {
    const first = this.nextEdge++;
    for (let i = 0; ; i += 1) {
      const { edge, send } = this.edges[(first + i) % this.edges.length]!;
      try {
        return await send(edge ? atPort(url, edge.port) : url, init);
      } catch (error) {
        const refused = /ECONNREFUSED/.test(`${(error as NodeJS.ErrnoException).code} ${(error as Error).message}`);
        if (!refused || i + 1 >= this.edges.length) throw error;
      }
    }
  }

  private async clientLoop(client: number, user: Credentials): Promise<void> {
    const { reads, pauseMs, sessionReads, minCycleMs } = this.shape;
    while (this.running) {
      const cycleStarted = Date.now();
      const login = await this.request(client, 'login', '/api/login', { json: user });
      const cookie = login?.status === 200 ? login.cookie() : undefined;
      if (!cookie) {
        await sleep(250);
        continue;
      }
      for (let i = 0; i < reads && this.running; i += 1) {
        const me = await this.request(client, 'me', '/api/me', { headers: { cookie } });
        // A lost session does not come back: sign in again.
        if (me?.status === 401) break;
        await sleep(pauseMs);
      }
      for (let i = 0; i < sessionReads && this.running; i += 1)
        await this.request(client, 'sessions', '/api/sessions', { headers: { cookie } });
      await this.request(client, 'logout', '/api/logout', {
        method: 'POST',
        headers: { cookie, origin: new URL(this.base).origin },
      });
      if (this.running) await sleep(Math.max(0, minCycleMs - (Date.now() - cycleStarted)));
    }
  }

  private async readyzLoop(): Promise<void> {
    while (this.running) {
      await this.request(-1, 'readyz', '/readyz');
      await sleep(250);
    }
  }
}

/** Counts and the failures of a record, as printed lines. */
export function summarize(outcomes: Outcome[], since = 0): string[] {
  const requests = outcomes.filter((o) => o.kind !== 'readyz');
  const seconds = Math.max(1, (Math.max(...outcomes.map((o) => o.at + o.ms), 0) - since) / 1000);
  const byKind = (['login', 'me', 'sessions', 'logout'] as const)
    .map((kind) => [kind, requests.filter((o) => o.kind === kind).length] as const)
    .filter(([kind, count]) => kind !== 'sessions' || count > 0)
    .map(([kind, count]) => `${kind} ${count}`)
    .join(', ');
  const failures = requests.filter(isFailure);
  const statuses = new Map<string, number>();
  for (const f of failures)
    statuses.set(String(f.status || f.error), (statuses.get(String(f.status || f.error)) ?? 0) + 1);
  return [
    `requests ${requests.length} (${byKind}) in ${seconds.toFixed(0)} s, ${(requests.length / seconds).toFixed(0)}/s`,
    `failed ${failures.length}${failures.length ? ` (${[...statuses].map(([s, n]) => `${s}: ${n}`).join(', ')})` : ''}, lost sessions ${requests.filter((o) => o.lostSession).length}`,
    `slowest ${Math.max(0, ...requests.map((o) => o.ms))} ms`,
  ];
}
