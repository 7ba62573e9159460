import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from '@jest/globals';
import { mirrorDrift, syncMirrors } from './mirrors.ts';

const roots: string[] = [];
afterEach(() => {
  for (const root of roots.splice(0)) rmSync(root, { recursive: true, force: true });
});

function fakeRepo(): string {
  const root = mkdtempSync(join(tmpdir(), 'k8s-mirrors-'));
  roots.push(root);
  mkdirSync(join(root, 'nginx/snippets'), { recursive: true });
  writeFileSync(join(root, 'nginx/nginx.conf'), 'events {}\n');
  writeFileSync(join(root, 'nginx/snippets/tls.conf'), 'ssl_protocols TLSv1.2 TLSv1.3;\n');
  mkdirSync(join(root, 'deploy'));
  writeFileSync(join(root, 'deploy/redis.conf'), 'maxmemory-policy noeviction\n');
  return root;
}

describe('mirrors (the copies of nginx/ and deploy/redis.conf under deploy/k8s)', () => {
  it('when nothing is copied yet, then every copy is reported missing, and sync writes them all', () => {
    const root = fakeRepo();

    expect(mirrorDrift(root)).toHaveLength(3);
    expect(syncMirrors(root).sort()).toEqual([
      'deploy/k8s/edge/nginx/nginx.conf',
      'deploy/k8s/edge/nginx/snippets/tls.conf',
      'deploy/k8s/examples/redis-single/redis.conf',
    ]);
    expect(mirrorDrift(root)).toEqual([]);
  });

  it('when a source changes, a file is added and one is removed, then each is named, and sync brings the copy back in line', () => {
    const root = fakeRepo();
    syncMirrors(root);
    writeFileSync(join(root, 'nginx/snippets/tls.conf'), 'ssl_protocols TLSv1.3;\n');
    writeFileSync(join(root, 'nginx/snippets/new.conf'), '# new\n');
    rmSync(join(root, 'nginx/nginx.conf'));

    const drift = mirrorDrift(root);

    expect(drift).toEqual([
      expect.stringMatching(/^deploy\/k8s\/edge\/nginx\/snippets\/new.conf: missing copy of nginx\/snippets\/new.conf/),
      expect.stringMatching(/^deploy\/k8s\/edge\/nginx\/snippets\/tls.conf: differs from nginx\/snippets\/tls.conf .*--sync/),
      expect.stringMatching(/^deploy\/k8s\/edge\/nginx\/nginx.conf: nginx\/nginx.conf no longer exists/),
    ]);
    syncMirrors(root);
    expect(mirrorDrift(root)).toEqual([]);
    expect(existsSync(join(root, 'deploy/k8s/edge/nginx/nginx.conf'))).toBe(false);
    expect(readFileSync(join(root, 'deploy/k8s/edge/nginx/snippets/tls.conf'), 'utf8')).toBe('ssl_protocols TLSv1.3;\n');
  });
});
