// The local stack: a real Kafka broker, a real schema registry and the feed simulator, started as
// detached processes on 127.0.0.1 and tracked in .local/stack.json. `up` is a no-op for a part
// that is already up, and reports a part that dies while starting with the end of its log.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { kafkaClasspath, kafkaReady, startKafka } from './kafka.ts';
import { ADDRESSES, LOCAL, STATE_FILE } from './paths.ts';
import { isAlive, type Started, sleep, stopProcess, tail } from './processes.ts';
import { registryReady, registryRunner, startRegistry } from './registry.ts';
import { simulatorReady, startSimulatorProcess } from './simulator.ts';

export type Part = 'kafka' | 'registry' | 'simulator';
export const PARTS: readonly Part[] = ['kafka', 'registry', 'simulator'];
type State = Partial<Record<Part, Started>>;

const SPEC: Record<
  Part,
  { start: () => Started; ready: () => Promise<boolean>; timeoutMs: number; address: string }
> = {
  kafka: {
    start: startKafka,
    ready: () => kafkaReady(ADDRESSES.brokers),
    timeoutMs: 120_000,
    address: ADDRESSES.brokers,
  },
  registry: {
    start: startRegistry,
    ready: () => registryReady(ADDRESSES.registry),
    timeoutMs: 180_000,
    address: ADDRESSES.registry,
  },
  simulator: {
    start: startSimulatorProcess,
    ready: () => simulatorReady(ADDRESSES.simulator),
    timeoutMs: 30_000,
    address: ADDRESSES.simulator,
  },
};

function readState(): State {
  return existsSync(STATE_FILE) ? (JSON.parse(readFileSync(STATE_FILE, 'utf8')) as State) : {};
}

function writeState(state: State): void {
  mkdirSync(LOCAL, { recursive: true });
  writeFileSync(STATE_FILE, `${JSON.stringify(state, null, 2)}\n`);
}

/** Downloads what the stack runs (Kafka jars, the registry archive) without starting anything. */
export function fetchRuntimes(): void {
  kafkaClasspath();
  registryRunner();
}

export interface UpResult {
  started: Part[];
  alreadyUp: Part[];
}

export async function up(
  parts: readonly Part[] = PARTS,
  log: (line: string) => void = () => {},
): Promise<UpResult> {
  fetchRuntimes();
  const state = readState();
  const result: UpResult = { started: [], alreadyUp: [] };
  const waits: Promise<void>[] = [];
  for (const part of parts) {
    const spec = SPEC[part];
    if (isAlive(state[part])) {
      result.alreadyUp.push(part);
    } else {
      if (await spec.ready())
        throw new Error(`${part}: something not started by this stack already answers at ${spec.address}`);
      state[part] = spec.start();
      writeState(state);
      result.started.push(part);
      log(`${part}: started (pid ${state[part]?.pid})`);
    }
    waits.push(waitReady(part, state[part] as Started));
  }
  await Promise.all(waits);
  return result;
}

async function waitReady(part: Part, proc: Started): Promise<void> {
  const spec = SPEC[part];
  const deadline = Date.now() + spec.timeoutMs;
  while (Date.now() < deadline) {
    if (await spec.ready()) return;
    if (!isAlive(proc))
      throw new Error(`${part} exited while starting; end of ${proc.log}:\n${tail(proc.log)}`);
    await sleep(500);
  }
  throw new Error(
    `${part} not ready after ${spec.timeoutMs / 1000}s; end of ${proc.log}:\n${tail(proc.log)}`,
  );
}

export async function down(parts: readonly Part[] = PARTS): Promise<Part[]> {
  const state = readState();
  const stopped: Part[] = [];
  // The simulator first, the broker last: nothing should lose its broker while still working.
  for (const part of [...parts].reverse()) {
    if (await stopProcess(state[part])) stopped.push(part);
    delete state[part];
  }
  writeState(state);
  return stopped;
}

export interface PartStatus {
  part: Part;
  pid?: number;
  running: boolean;
  ready: boolean;
  address: string;
  log?: string;
}

export async function status(): Promise<PartStatus[]> {
  const state = readState();
  return Promise.all(
    PARTS.map(async (part) => {
      const proc = state[part];
      const running = isAlive(proc);
      const base = {
        part,
        running,
        address: SPEC[part].address,
        ready: running && (await SPEC[part].ready()),
      };
      return proc ? { ...base, pid: proc.pid, log: proc.log } : base;
    }),
  );
}

export { ADDRESSES };
