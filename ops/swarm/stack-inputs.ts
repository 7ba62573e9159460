import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { nginxFiles } from '../../testkit/nginx.ts';
import { fromRepo, repoRoot } from '../../testkit/repo.ts';
import { say } from '../lib/log.ts';
import type { Cluster } from './cluster.ts';

const log = (message: string) => say('swarm', message);

/** The swarm stack file; the files below go to `docker stack deploy` beside it, written for each deploy. */
export const STACK_FILE = fromRepo('deploy/swarm/stack.yml');

/** A short digest of some content: the version suffix of an immutable swarm secret or config. */
export function contentVersion(...parts: Array<string | Buffer>): string {
  const hash = createHash('sha256');
  for (const part of parts) hash.update(part).update('\0');
  return hash.digest('hex').slice(0, 12);
}

/**
 * nginx's own files as swarm configs, derived from nginx/ (testkit/nginx.ts): a second compose
 * file beside stack.yml, written for each deploy, so a new snippet needs no list in stack.yml.
 */
export function writeNginxConfigs(runDir: string): string {
  const configs = nginxFiles().map((file) => ({
    file,
    key: `nginx_${file.replace(/\.(conf|template)$/g, '').replace(/[^a-z0-9]+/gi, '_')}`,
  }));
  const compose = {
    version: '3.8',
    services: { nginx: { configs: configs.map(({ file, key }) => ({ source: key, target: `/etc/nginx/${file}` })) } },
    configs: Object.fromEntries(
      configs.map(({ file, key }) => [
        key,
        { name: `authstack_${key}_\${NGINX_CONFIG_VERSION}`, file: join(repoRoot, 'nginx', file) },
      ]),
    ),
  };
  const path = join(runDir, 'nginx-configs.json');
  writeFileSync(path, `${JSON.stringify(compose, null, 2)}\n`);
  return path;
}

/** Every image of stack.yml pushed to the cluster's registry; a compose file naming them there. */
export async function pushImages(cluster: Cluster, runDir: string, serviceTag: string): Promise<string> {
  const doc = parseYaml(readFileSync(STACK_FILE, 'utf8'), { merge: true }) as {
    services: Record<string, { image: string }>;
  };
  const services: Record<string, { image: string }> = {};
  const pushed = new Map<string, string>();
  for (const [name, { image }] of Object.entries(doc.services)) {
    const local = image.replace(/\$\{SERVICE_TAG[^}]*\}/, serviceTag);
    if (!pushed.has(local)) pushed.set(local, await cluster.push(local));
    services[name] = { image: pushed.get(local)! };
  }
  log(`pushed to the cluster's registry: ${[...pushed.values()].join(' ')}`);
  const path = join(runDir, 'registry-images.json');
  writeFileSync(path, `${JSON.stringify({ version: '3.8', services }, null, 2)}\n`);
  return path;
}
