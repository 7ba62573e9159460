import { existsSync } from 'node:fs';
import { CliError, say } from './log.ts';
import { run, which } from '../../testkit/run.ts';

/** Command -> the Debian package that provides it, where the names differ. */
const PACKAGE_OF: Record<string, string> = {
  'redis-cli': 'redis-server',
  'redis-check-rdb': 'redis-tools',
  nginx: 'nginx-light',
  promtool: 'prometheus',
  docker: 'docker.io',
  dockerd: 'docker.io',
  envsubst: 'gettext-base',
  testssl: 'testssl.sh',
  kubectl: 'kubernetes-client',
  'pebble-challtestsrv': 'pebble',
  certutil: 'libnss3-tools',
};

/**
 * Makes sure the named commands exist. Missing ones are installed with apt-get when we are root
 * (or have passwordless sudo) on a Debian/Ubuntu machine; otherwise it stops with the exact
 * install command, so `make up` / `make test` either work or say what to do.
 */
export async function ensureTools(...commands: string[]): Promise<void> {
  const missing = commands.filter((command) => !which(command));
  if (missing.length === 0) return;
  const packages = [...new Set(missing.map((command) => PACKAGE_OF[command] ?? command))];
  const installCommand = `apt-get install -y --no-install-recommends ${packages.join(' ')}`;
  const isRoot = process.getuid?.() === 0;
  const sudo =
    !isRoot && which('sudo') && (await run('sudo', ['-n', 'true'], { allowFailure: true })).code === 0 ? ['sudo'] : [];
  if (!existsSync('/usr/bin/apt-get') || (!isRoot && sudo.length === 0)) {
    throw new CliError(`missing ${missing.join(', ')}. Install with:\n    sudo ${installCommand}`);
  }
  say('tools', `installing missing tools (${missing.join(', ')}): ${installCommand}`);
  const apt = async (...args: string[]) => {
    const [command, ...rest] = [...sudo, 'apt-get', '-o', 'DPkg::Lock::Timeout=600', ...args];
    // Another apt may be running on a shared machine: the lock timeout waits for it.
    await run(command!, rest, { env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  };
  await apt('update', '-qq');
  await apt('install', '-y', '-qq', '--no-install-recommends', ...packages);
  const still = missing.filter((command) => !which(command));
  if (still.length > 0) throw new CliError(`installed ${packages.join(' ')} but ${still.join(', ')} is still missing`);
}
