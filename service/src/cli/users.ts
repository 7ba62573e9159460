import { createInterface } from 'node:readline';
import { Writable } from 'node:stream';
import { bootstrap } from '../bootstrap.ts';
import { ConfigError, loadConfig } from '../config/config.ts';
import type { Domain } from '../domain.ts';
import { AppError } from '../errors.ts';

const USAGE = `usage: npm run users -- <command> [username]

  add <username>      create a user; the password is read from stdin (or prompted)
  passwd <username>   set a new password; ends all of the user's sessions
  rm <username>       remove the user and end all of their sessions
  ls                  list users (with their groups)
  groups <username> [add|rm <group>...]
                      show, add or remove groups (forward-auth access rules name them);
                      a change ends the user's sessions, so it applies from the next sign-in

Passwords are never taken from argv (it is visible in ps and shell history):
  printf '%s\\n' "$PASSWORD" | npm run users -- add alice
Configuration comes from the same environment as the service (REDIS_URL, REDIS_PASSWORD, ...).`;

/** Reads one line: hidden prompt on a TTY, else the first line of stdin. */
async function readPassword(prompt: string): Promise<string> {
  const interactive = process.stdin.isTTY;
  let muted = false;
  const output = new Writable({
    write(chunk: Buffer, _enc, done) {
      if (!muted) process.stderr.write(chunk);
      done();
    },
  });
  const rl = createInterface({ input: process.stdin, output: interactive ? output : undefined, terminal: interactive });
  if (interactive) process.stderr.write(prompt);
  muted = interactive;
  const line = await new Promise<string>((resolve) => {
    let answered = false;
    rl.once('line', (l) => {
      answered = true;
      resolve(l);
    });
    rl.once('close', () => {
      if (!answered) resolve('');
    });
  });
  rl.close();
  if (interactive) process.stderr.write('\n');
  return line.replace(/\r$/, '');
}

async function newPassword(): Promise<string> {
  const password = await readPassword('New password: ');
  if (process.stdin.isTTY) {
    const again = await readPassword('Repeat password: ');
    if (again !== password) throw new Error('passwords do not match');
  }
  if (!password) throw new Error('no password given on stdin');
  return password;
}

async function run(
  command: string | undefined,
  username: string | undefined,
  domain: Domain,
  extra: string[],
): Promise<string> {
  const need = () => {
    if (!username) throw new Error(`${command} needs a username\n\n${USAGE}`);
    return username;
  };
  switch (command) {
    case 'add': {
      const name = need();
      const user = await domain.accounts.create(name, await newPassword());
      return `created ${user.username} (${user.id})`;
    }
    case 'passwd': {
      const user = await domain.users.findByUsername(need());
      if (!user) throw new Error(`no user ${username}`);
      const { revoked } = await domain.accounts.changePassword(user, await newPassword());
      return `password changed for ${user.username}; ${revoked} session(s) ended`;
    }
    case 'rm': {
      const user = await domain.users.findByUsername(need());
      if (!user) throw new Error(`no user ${username}`);
      const revoked = await domain.accounts.remove(user);
      return `removed ${user.username}; ${revoked} session(s) ended`;
    }
    case 'ls': {
      const users = await domain.users.list();
      const line = (u: (typeof users)[number]) =>
        `${u.username}\t${u.id}\tcreated ${new Date(u.createdAt).toISOString()}\tgroups ${u.groups.join(',') || '-'}`;
      return users.map(line).join('\n') || '(no users)';
    }
    case 'groups': {
      const user = await domain.users.findByUsername(need());
      if (!user) throw new Error(`no user ${username}`);
      const [action, ...groups] = extra;
      if (action === undefined) return user.groups.join('\n') || '(no groups)';
      if ((action !== 'add' && action !== 'rm') || groups.length === 0) throw new Error(USAGE);
      const change = action === 'add' ? { add: groups } : { remove: groups };
      const done = await domain.accounts.changeGroups(user, change);
      return `groups of ${user.username}: ${done.groups.join(', ') || '(none)'}; ${done.revoked} session(s) ended`;
    }
    default:
      throw new Error(USAGE);
  }
}

async function main(argv: string[]): Promise<number> {
  const [command, username, ...extra] = argv;
  if (!command || command === '--help' || command === '-h') {
    process.stdout.write(`${USAGE}\n`);
    return command ? 0 : 2;
  }
  if (extra.length > 0 && command !== 'groups')
    throw new Error('too many arguments: passwords are read from stdin or a prompt, never from argv');
  const config = loadConfig(process.env);
  // Audit events go to stderr as JSON, like the service's; results go to stdout.
  const runtime = await bootstrap({
    config,
    logLevel: config.logLevel === 'info' ? 'warn' : config.logLevel,
    logDestination: process.stderr,
    defaultMetrics: false,
  });
  try {
    process.stdout.write(`${await run(command, username, runtime.domain, extra)}\n`);
    return 0;
  } finally {
    await runtime.close();
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    const message =
      error instanceof ConfigError || error instanceof AppError || error instanceof Error
        ? error.message
        : String(error);
    process.stderr.write(`users: ${message}\n`);
    process.exit(error instanceof ConfigError ? 78 : 1);
  },
);
