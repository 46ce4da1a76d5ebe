// Faults on the three-node cluster, injected at the edge: a node killed (SIGKILL), paused (SIGSTOP)
// and resumed, stopped cleanly (SIGTERM) and started again; and what a fault campaign needs to aim
// them: the leader of a partition, the transaction coordinator of an id, the active controller,
// and whether every partition has all its replicas in sync again.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { type Admin, Kafka, logLevel } from 'kafkajs';
import { CLUSTER_NODES, kafkaClasspath, startKafkaNode } from './kafka.ts';
import { ADDRESSES, javaBin } from './paths.ts';
import { isAlive, type Started, sleep } from './processes.ts';
import { processesOf, readState, setPart } from './state.ts';

export type NodeSignal = 'SIGKILL' | 'SIGTERM' | 'SIGSTOP' | 'SIGCONT';

export function clusterAdmin(): Admin {
  return new Kafka({
    clientId: 'cdr-stack-cluster',
    brokers: ADDRESSES.cluster.split(','),
    logLevel: logLevel.NOTHING,
    connectionTimeout: 2000,
    requestTimeout: 10_000,
    retry: { retries: 3, initialRetryTime: 200 },
  }).admin();
}

function nodeProcess(id: number): Started | undefined {
  return processesOf(readState(), 'cluster')[id - 1] ?? undefined;
}

/** Sends `signal` to node `id`'s process (nothing when it is not running). */
export function signalNode(id: number, signal: NodeSignal): void {
  const p = nodeProcess(id);
  if (p && isAlive(p)) process.kill(p.pid, signal);
}

/** Stops node `id` with `signal` and waits until its process is gone (SIGKILL after `graceMs`). */
export async function stopNode(id: number, signal: 'SIGKILL' | 'SIGTERM', graceMs = 60_000): Promise<void> {
  const p = nodeProcess(id);
  if (!p || !isAlive(p)) return;
  process.kill(p.pid, signal);
  const deadline = Date.now() + graceMs;
  while (isAlive(p)) {
    if (Date.now() > deadline) process.kill(p.pid, 'SIGKILL');
    await sleep(100);
  }
}

/** Starts node `id` again (a no-op when it runs) and waits until the cluster lists it. */
export async function startNode(id: number, timeoutMs = 120_000): Promise<void> {
  if (!isAlive(processesOf(readState(), 'cluster')[id - 1] ?? undefined)) {
    const started = startKafkaNode(CLUSTER_NODES[id - 1] as (typeof CLUSTER_NODES)[number]);
    const procs = processesOf(readState(), 'cluster');
    while (procs.length < CLUSTER_NODES.length) procs.push(null);
    procs[id - 1] = started;
    setPart('cluster', procs);
  }
  const deadline = Date.now() + timeoutMs;
  while (!(await brokerIds()).includes(id)) {
    if (Date.now() > deadline) throw new Error(`node ${id} did not rejoin within ${timeoutMs} ms`);
    await sleep(500);
  }
}

/** The node ids the cluster's metadata lists as brokers now. */
export async function brokerIds(): Promise<number[]> {
  const admin = clusterAdmin();
  try {
    await admin.connect();
    return (await admin.describeCluster()).brokers.map((b) => b.nodeId).sort();
  } catch {
    return [];
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

export async function leaderOf(topic: string, partition: number): Promise<number> {
  const admin = clusterAdmin();
  await admin.connect();
  try {
    const { topics } = await admin.fetchTopicMetadata({ topics: [topic] });
    const p = topics[0]?.partitions.find((x) => x.partitionId === partition);
    if (p === undefined || p.leader < 0) throw new Error(`${topic}/${partition} has no leader now`);
    return p.leader;
  } finally {
    await admin.disconnect();
  }
}

/** Java's String.hashCode: Kafka places a transactional id by it. */
function javaHash(text: string): number {
  let h = 0;
  for (let i = 0; i < text.length; i++) h = (Math.imul(31, h) + text.charCodeAt(i)) | 0;
  return h;
}

/**
 * The node that coordinates `transactionalId`'s transactions: the leader of its partition of
 * __transaction_state (Utils.abs(hashCode) mod the topic's partitions, as the broker computes it).
 */
export function transactionCoordinator(transactionalId: string): Promise<number> {
  return coordinatorOf('__transaction_state', transactionalId);
}

/** The node that coordinates consumer group `groupId`: the leader of its __consumer_offsets partition. */
export function groupCoordinator(groupId: string): Promise<number> {
  return coordinatorOf('__consumer_offsets', groupId);
}

async function coordinatorOf(stateTopic: string, key: string): Promise<number> {
  const admin = clusterAdmin();
  await admin.connect();
  try {
    const { topics } = await admin.fetchTopicMetadata({ topics: [stateTopic] });
    const partitions = topics[0]?.partitions.length ?? 0;
    if (partitions === 0) throw new Error(`${stateTopic} does not exist yet`);
    const partition = (javaHash(key) & 0x7fffffff) % partitions;
    const p = topics[0]?.partitions.find((x) => x.partitionId === partition);
    if (p === undefined || p.leader < 0) throw new Error(`${stateTopic}/${partition} has no leader now`);
    return p.leader;
  } finally {
    await admin.disconnect();
  }
}

/** The node leading the KRaft controller quorum, as Kafka's own metadata-quorum tool reports it. */
export async function activeController(): Promise<number> {
  const controllers = CLUSTER_NODES.map((n) => `127.0.0.1:${n.controllerPort}`).join(',');
  const { stdout } = await promisify(execFile)(
    javaBin(),
    [
      '-Xmx128m',
      '-cp',
      kafkaClasspath(),
      'org.apache.kafka.tools.MetadataQuorumCommand',
      '--bootstrap-controller',
      controllers,
      'describe',
      '--status',
    ],
    { timeout: 60_000 },
  );
  const m = /LeaderId:\s+(\d+)/.exec(stdout);
  if (!m) throw new Error(`no LeaderId in the quorum's description:\n${stdout}`);
  return Number(m[1]);
}

/** Partitions whose in-sync replicas are fewer than their replicas (all topics, internal ones too). */
export async function underReplicated(): Promise<string[]> {
  const admin = clusterAdmin();
  await admin.connect();
  try {
    const names = await admin.listTopics();
    const { topics } = await admin.fetchTopicMetadata({ topics: names });
    return topics.flatMap((t) =>
      t.partitions
        .filter((p) => p.isr.length < p.replicas.length || p.leader < 0)
        .map((p) => `${t.name}/${p.partitionId}`),
    );
  } finally {
    await admin.disconnect();
  }
}

/** Waits until all three nodes are brokers of the cluster and no partition is under-replicated. */
export async function waitClusterHealthy(timeoutMs = 180_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    const ids = await brokerIds();
    if (ids.length === CLUSTER_NODES.length) {
      const urp = await underReplicated().catch((err: Error) => [`(${err.message})`]);
      if (urp.length === 0) return;
      last = `under-replicated: ${urp.slice(0, 5).join(', ')}${urp.length > 5 ? ` and ${urp.length - 5} more` : ''}`;
    } else last = `brokers: ${ids.join(', ') || 'none'}`;
    if (Date.now() > deadline) throw new Error(`the cluster is not healthy after ${timeoutMs} ms (${last})`);
    await sleep(500);
  }
}
