import { copyFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { totalmem } from 'node:os';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { parse as parseYaml } from 'yaml';
import { ensureLocalCertificates, issueLeaf } from '../../testkit/certs.ts';
import { sampleCgroupMemory } from '../../testkit/proc.ts';
import { fromRepo, repoRoot } from '../../testkit/repo.ts';
import { composeCommand } from '../docker/docker-stack.ts';
import { buildStandinImages, neededImages } from '../docker/standin-images.ts';
import { CliError, say } from '../lib/log.ts';
import { capture, run, waitFor, type RunOptions } from '../../testkit/run.ts';

const log = (message: string) => say('cluster', message);

/** The cluster's compose file: the one source of the nodes, their addresses, labels and the registry. */
export const CLUSTER_FILE = fromRepo('deploy/swarm/cluster.yml');
/** Placement on more than one node, deployed with stack.yml. */
export const NODES_FILE = fromRepo('deploy/swarm/nodes.yml');
const PROJECT = 'authstack-cluster';
const NODE_LABELS = 'io.authstack.swarm.node-labels';

export interface ClusterNode {
  /** compose service and swarm node name (its hostname) */
  name: string;
  address: string;
  /** DOCKER_HOST of this node's engine (its socket, shared through CLUSTER_RUN_DIR) */
  host: string;
  /** swarm node labels, key=value */
  labels: string[];
}

interface ComposeService {
  hostname?: string;
  image?: string;
  labels?: Record<string, string>;
  networks?: Record<string, { ipv4_address?: string }>;
  ports?: string[];
}

/**
 * A swarm of Docker engines in containers on this machine (deploy/swarm/cluster.yml), with the
 * registry the nodes pull from. The machine's engine runs the cluster through docker-compose;
 * each node's engine is reached over its own socket, nothing over TCP.
 */
export class Cluster {
  readonly runDir = fromRepo('.run/cluster');
  readonly nodes: ClusterNode[];
  /** How the nodes name the registry (its address on the cluster network) */
  readonly registry: string;
  /** How this machine pushes to it: the loopback port, which Docker treats as a local registry */
  private readonly pushRegistry: string;
  private readonly env: NodeJS.ProcessEnv;

  constructor(env: NodeJS.ProcessEnv = process.env) {
    this.env = env;
    const doc = parseYaml(readFileSync(CLUSTER_FILE, 'utf8'), { merge: true }) as {
      services: Record<string, ComposeService>;
    };
    const address = (service: ComposeService) => Object.values(service.networks ?? {})[0]?.ipv4_address ?? '';
    this.nodes = Object.entries(doc.services)
      .filter(([, service]) => service.labels?.[NODE_LABELS] !== undefined)
      .map(([name, service]) => ({
        name,
        address: address(service),
        host: `unix://${join(this.runDir, name, 'docker.sock')}`,
        labels: service.labels![NODE_LABELS]!.split(','),
      }));
    const registry = doc.services.registry!;
    const containerPort = registry.ports![0]!.split(':').pop()!;
    this.registry = `${address(registry)}:${containerPort}`;
    this.pushRegistry = `127.0.0.1:${env.SWARM_REGISTRY_PORT || '5000'}`;
  }

  private async compose(args: string[], options: RunOptions & { vars?: Record<string, string> } = {}) {
    const [command, ...rest] = await composeCommand();
    return run(command!, [...rest, '-p', PROJECT, '-f', CLUSTER_FILE, ...args], {
      ...options,
      cwd: repoRoot,
      env: { ...process.env, ...this.env, ...options.vars, CLUSTER_RUN_DIR: this.runDir },
    });
  }

  /** The node containers that run (the cluster is up, possibly with a node down). */
  async isUp(): Promise<boolean> {
    const filters = ['--filter', `label=com.docker.compose.project=${PROJECT}`, '--filter', 'status=running'];
    return (await capture('docker', ['ps', '-q', ...filters]).catch(() => '')).trim() !== '';
  }

  /**
   * Starts the engines and the registry (stand-ins where no registry has the images), then makes
   * them one swarm: node-1 starts it when no node is in one, every other node joins as a manager.
   * `ports`: HTTP_PORT and HTTPS_PORT, where this machine reaches node-1's edge.
   */
  async up(ports: Record<string, string>): Promise<void> {
    const images = neededImages([], [CLUSTER_FILE]).filter((image) => image.includes(':'));
    const missing = [];
    for (const image of images)
      if ((await run('docker', ['image', 'inspect', image], { allowFailure: true })).code !== 0) missing.push(image);
    if (missing.length > 0) await buildStandinImages({ files: [CLUSTER_FILE] });
    this.writeInputs();
    await this.compose(['up', '-d', '--remove-orphans'], { stdio: 'inherit', vars: ports });
    for (const node of this.nodes) await this.waitEngine(node);
    await this.ensureSwarm();
  }

  /** Stops the cluster; its volumes (every node's data) stay unless `volumes`. */
  async down(options: { volumes?: boolean } = {}): Promise<void> {
    await this.compose(['down', ...(options.volumes ? ['--volumes'] : [])], { stdio: 'inherit', allowFailure: true });
  }

  /** Pulls the plug on a node: its engine container is killed, nothing shuts down cleanly. */
  async kill(node: ClusterNode): Promise<void> {
    await this.compose(['kill', node.name]);
  }

  async start(node: ClusterNode): Promise<void> {
    await this.compose(['start', node.name]);
    await this.waitEngine(node);
  }

  private async waitEngine(node: ClusterNode): Promise<void> {
    const answers = async () =>
      (await run('docker', ['-H', node.host, 'info'], { allowFailure: true, timeoutMs: 10_000 })).code === 0 ||
      undefined;
    if (!(await waitFor(answers, { timeoutMs: 60_000, intervalMs: 500 })))
      throw new CliError(
        `the engine of ${node.name} does not answer on ${node.host} (docker logs of ${PROJECT}_${node.name}_1)`,
      );
  }

  /** Engines that answer now. */
  async liveNodes(): Promise<ClusterNode[]> {
    const live = await Promise.all(
      this.nodes.map(
        async (node) =>
          (await run('docker', ['-H', node.host, 'info'], { allowFailure: true, timeoutMs: 5_000 })).code === 0,
      ),
    );
    return this.nodes.filter((_node, i) => live[i]);
  }

  /** DOCKER_HOST of a manager that can act for the swarm (any live one: all three are managers). */
  async managerHost(): Promise<string> {
    for (const node of await this.liveNodes()) {
      const control = await capture('docker', ['-H', node.host, 'info', '--format', '{{.Swarm.ControlAvailable}}']);
      if (control.trim() === 'true') return node.host;
    }
    throw new CliError('no manager of the cluster answers');
  }

  /** Samples the RSS of the cluster's containers (testkit/proc.ts) until `stop` reports the peaks. */
  async sampleMemory(): Promise<{ stop: () => string }> {
    const filter = `label=com.docker.compose.project=${PROJECT}`;
    const ids = (await capture('docker', ['ps', '-q', '--filter', filter])).split('\n').filter(Boolean);
    const lines = (await capture('docker', ['inspect', '-f', '{{.Name}} {{.State.Pid}}', ...ids])).trim().split('\n');
    const groups = lines
      .map((line) => line.split(' '))
      .map(([name, pid]) => ({ name: name!.split('_')[1]!, pid: Number(pid) }));
    const sampler = sampleCgroupMemory(groups);
    const mib = (bytes: number) => `${Math.round(bytes / 2 ** 20)} MiB`;
    return {
      stop: () => {
        const { total, each } = sampler.stop();
        const parts = [...each].map(([name, bytes]) => `${name} ${mib(bytes)}`).join(', ');
        return `peak RSS of the cluster (engines, their containers, the registry): ${mib(total)} (${parts}); the machine has ${mib(totalmem())}`;
      },
    };
  }

  /** Pushes a local image to the registry; returns the name the nodes pull it by. */
  async push(local: string): Promise<string> {
    const repository = local.includes('/') ? local : `library/${local}`;
    await run('docker', ['tag', local, `${this.pushRegistry}/${repository}`]);
    await run('docker', ['push', '-q', `${this.pushRegistry}/${repository}`]);
    await run('docker', ['rmi', `${this.pushRegistry}/${repository}`], { allowFailure: true });
    return `${this.registry}/${repository}`;
  }

  /** The registry's certificate (local CA) and the nodes' trust in it (certs.d), the engines' socket dirs. */
  private writeInputs(): void {
    const certs = ensureLocalCertificates(join(repoRoot, 'certs'), { quiet: true });
    const registryDir = join(this.runDir, 'registry');
    const trustDir = join(this.runDir, 'certs.d', this.registry);
    for (const dir of [registryDir, trustDir, ...this.nodes.map((node) => join(this.runDir, node.name))])
      mkdirSync(dir, { recursive: true, mode: 0o700 });
    copyFileSync(certs.caCrt, join(trustDir, 'ca.crt'));
    const cert = join(registryDir, 'registry.crt');
    // The registry runs as root in its container; the key is read there only.
    if (!existsSync(cert))
      issueLeaf(join(repoRoot, 'certs'), { cert, key: join(registryDir, 'registry.key') }, [
        this.registry.split(':')[0]!,
        '127.0.0.1',
      ]);
  }

  /**
   * `docker swarm join` through the engine's API: the CLI takes the join token only as an
   * argument, and a command line is readable by every local user (/proc), so no secret goes there.
   */
  private async join(node: ClusterNode, leader: ClusterNode, token: string): Promise<void> {
    const dispatcher = new Agent({ connect: { socketPath: join(this.runDir, node.name, 'docker.sock') } });
    const spec = { ListenAddr: '0.0.0.0:2377', AdvertiseAddr: node.address, RemoteAddrs: [`${leader.address}:2377`] };
    try {
      const response = await request('http://engine/swarm/join', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ ...spec, JoinToken: token }),
        dispatcher,
      });
      const answer = await response.body.text();
      if (response.statusCode !== 200) throw new CliError(`${node.name} could not join the swarm: ${answer.trim()}`);
    } finally {
      await dispatcher.close();
    }
  }

  /** One swarm of every node, all managers, each with its labels from cluster.yml. */
  private async ensureSwarm(): Promise<void> {
    const state = async (node: ClusterNode) =>
      (await capture('docker', ['-H', node.host, 'info', '--format', '{{.Swarm.LocalNodeState}}'])).trim();
    const states = await Promise.all(this.nodes.map(state));
    let leader = this.nodes.find((_node, i) => states[i] === 'active');
    if (!leader) {
      // The node without a Redis data node starts the swarm and so leads its Raft group at first:
      // losing the primary's node then costs a Redis failover, not a Raft election on top.
      leader =
        this.nodes.find((node) => !node.labels.some((label) => label.startsWith('authstack.redis='))) ?? this.nodes[0]!;
      log(`docker swarm init on ${leader.name} (${leader.address})`);
      await run('docker', ['-H', leader.host, 'swarm', 'init', '--advertise-addr', leader.address]);
    }
    // Nodes report every 2 s (default 5 s) and count as down after three missed reports: the
    // tasks of a lost node are rescheduled within the drill's 30 s even when it was the Raft
    // leader (an election first, about 10 s). On a LAN the extra heartbeats cost next to nothing.
    await run('docker', ['-H', leader.host, 'swarm', 'update', '--dispatcher-heartbeat', '2s']);
    const token = (await capture('docker', ['-H', leader.host, 'swarm', 'join-token', '-q', 'manager'])).trim();
    for (const [i, node] of this.nodes.entries()) {
      if (node === leader || states[i] === 'active') continue;
      log(`${node.name} joins as a manager`);
      await this.join(node, leader, token);
    }
    for (const node of this.nodes) {
      const labels = node.labels.flatMap((label) => ['--label-add', label]);
      await run('docker', ['-H', leader.host, 'node', 'update', ...labels, node.name]);
    }
    log(`swarm of ${this.nodes.map((n) => `${n.name} ${n.address}`).join(', ')}; registry ${this.registry}`);
  }
}
