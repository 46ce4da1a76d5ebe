// The local stack: a real Kafka (one broker, or a three-node cluster), a real schema registry and
// the feed simulator, started as detached processes on 127.0.0.1 and tracked in .local/stack.json.
// `up` is a no-op for a part that is already up (and starts the nodes of the cluster that are
// not), and reports a part that dies while starting with the end of its log.
import { CLUSTER_NODES, kafkaClasspath, kafkaReady, SINGLE_NODE, startKafkaNode } from './kafka.ts';
import { ADDRESSES, PORTS, stackBrokers } from './paths.ts';
import { isAlive, type Started, sleep, stopProcess, tail } from './processes.ts';
import { proxyReady, startProxy } from './proxy.ts';
import { registryReady, registryRunner, startRegistry } from './registry.ts';
import { s3proxyJar, s3Ready, startS3 } from './s3.ts';
import { simulatorReady, startSimulatorProcess } from './simulator.ts';
import { type Part, processesOf, readState, setPart } from './state.ts';

export type { Part };
export const PARTS: readonly Part[] = ['kafka', 'cluster', 'registry', 's3', 'proxy', 'simulator'];

/** The parts `./dev local:up` and `./dev start` run: the Kafka STACK_BROKERS asks for, the registry, the S3 server, the egress proxy, the simulator. */
export function defaultParts(): Part[] {
  return [stackBrokers() === 3 ? 'cluster' : 'kafka', 'registry', 's3', 'proxy', 'simulator'];
}

interface Spec {
  /** Starts process `index` of the part (a node of the cluster). */
  start: (index: number) => Started;
  processes: number;
  ready: () => Promise<boolean>;
  timeoutMs: number;
  address: string;
}

const SPEC: Record<Part, Spec> = {
  kafka: {
    start: () => startKafkaNode(SINGLE_NODE),
    processes: 1,
    ready: () => kafkaReady(ADDRESSES.single),
    timeoutMs: 120_000,
    address: ADDRESSES.single,
  },
  cluster: {
    start: (i) => startKafkaNode(CLUSTER_NODES[i] as (typeof CLUSTER_NODES)[number]),
    processes: CLUSTER_NODES.length,
    ready: () => kafkaReady(ADDRESSES.cluster, CLUSTER_NODES.length),
    timeoutMs: 180_000,
    address: ADDRESSES.cluster,
  },
  registry: {
    start: startRegistry,
    processes: 1,
    ready: () => registryReady(ADDRESSES.registry),
    timeoutMs: 180_000,
    address: ADDRESSES.registry,
  },
  s3: {
    start: startS3,
    processes: 1,
    ready: () => s3Ready(ADDRESSES.s3),
    timeoutMs: 90_000,
    address: ADDRESSES.s3,
  },
  proxy: {
    start: startProxy,
    processes: 1,
    ready: () => proxyReady(PORTS.proxy),
    timeoutMs: 15_000,
    address: ADDRESSES.proxy,
  },
  simulator: {
    start: startSimulatorProcess,
    processes: 1,
    ready: () => simulatorReady(ADDRESSES.simulator),
    timeoutMs: 30_000,
    address: ADDRESSES.simulator,
  },
};

/** Downloads what the stack runs (Kafka jars, the registry archive) without starting anything. */
export function fetchRuntimes(): void {
  kafkaClasspath();
  registryRunner();
  s3proxyJar();
}

export interface UpResult {
  started: Part[];
  alreadyUp: Part[];
}

export async function up(
  parts: readonly Part[] = defaultParts(),
  log: (line: string) => void = () => {},
): Promise<UpResult> {
  fetchRuntimes();
  const state = readState();
  const result: UpResult = { started: [], alreadyUp: [] };
  const waits: Promise<void>[] = [];
  for (const part of parts) {
    const spec = SPEC[part];
    const procs = processesOf(state, part);
    const missing = [...Array(spec.processes).keys()].filter((i) => !isAlive(procs[i] ?? undefined));
    if (missing.length === 0) {
      result.alreadyUp.push(part);
    } else {
      // Something of ours half up (a node of the cluster stopped) is completed; something else
      // answering at our address is not ours to use.
      if (missing.length === spec.processes && (await spec.ready()))
        throw new Error(`${part}: something not started by this stack already answers at ${spec.address}`);
      for (const i of missing) procs[i] = spec.start(i);
      setPart(part, spec.processes === 1 ? (procs[0] as Started) : procs);
      result.started.push(part);
      const pids = missing.map((i) => procs[i]?.pid).join(', ');
      log(`${part}: started (pid ${pids})`);
    }
    waits.push(
      waitReady(
        part,
        procs.filter((p): p is Started => p !== null),
      ),
    );
  }
  await Promise.all(waits);
  return result;
}

async function waitReady(part: Part, procs: Started[]): Promise<void> {
  const spec = SPEC[part];
  const deadline = Date.now() + spec.timeoutMs;
  while (Date.now() < deadline) {
    if (await spec.ready()) return;
    const dead = procs.find((p) => !isAlive(p));
    if (dead) throw new Error(`${part} exited while starting; end of ${dead.log}:\n${tail(dead.log)}`);
    await sleep(500);
  }
  const log = procs[0]?.log ?? '(no log)';
  throw new Error(`${part} not ready after ${spec.timeoutMs / 1000}s; end of ${log}:\n${tail(log)}`);
}

export async function down(parts: readonly Part[] = PARTS): Promise<Part[]> {
  const state = readState();
  const stopped: Part[] = [];
  // The simulator first, the brokers last: nothing should lose its broker while still working.
  for (const part of [...parts].reverse()) {
    const results = await Promise.all(processesOf(state, part).map((p) => stopProcess(p ?? undefined)));
    if (results.some(Boolean)) stopped.push(part);
    setPart(part, undefined);
  }
  return stopped;
}

export interface PartStatus {
  part: Part;
  pids: number[];
  running: boolean;
  ready: boolean;
  address: string;
  log?: string;
}

export async function status(parts: readonly Part[] = PARTS): Promise<PartStatus[]> {
  const state = readState();
  return Promise.all(
    parts.map(async (part) => {
      const procs = processesOf(state, part).filter((p): p is Started => p !== null);
      const running = procs.length === SPEC[part].processes && procs.every((p) => isAlive(p));
      const base = {
        part,
        pids: procs.filter((p) => isAlive(p)).map((p) => p.pid),
        running,
        address: SPEC[part].address,
        ready: running && (await SPEC[part].ready()),
      };
      return procs[0] ? { ...base, log: procs[0].log } : base;
    }),
  );
}

export { ADDRESSES };
