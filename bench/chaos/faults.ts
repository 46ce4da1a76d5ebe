// The faults of the campaign, each injected at the edge (a signal to a broker process) and aimed
// where it hurts: the leader of the cursor partition, the leader of a cdr.raw partition, the
// transaction coordinator of one of the producer's ids, the active controller; and a rolling
// restart. Each returns once the cluster is whole again (all nodes back, nothing under-replicated).
import {
  activeController,
  leaderOf,
  signalNode,
  startNode,
  stopNode,
  transactionCoordinator,
  waitClusterHealthy,
} from '../../scripts/stack/cluster.ts';
import { down, up } from '../../scripts/stack/index.ts';
import { killProcess, sleep } from '../../scripts/stack/processes.ts';
import { processesOf, readState } from '../../scripts/stack/state.ts';

/** Faults on the three-node cluster. */
export const FAULT_KINDS = ['cursor-leader', 'raw-leader', 'pause', 'controller', 'rolling'] as const;
/** Faults on the single broker: stopped (SIGTERM) or killed (SIGKILL) and started again. */
export const SINGLE_FAULT_KINDS = ['broker-restart', 'broker-kill'] as const;
export type FaultKind = (typeof FAULT_KINDS)[number] | (typeof SINGLE_FAULT_KINDS)[number];

export const FAULT_TEXT: Record<FaultKind, string> = {
  'cursor-leader': 'kill -9 of the leader of a cdr.cursor partition',
  'raw-leader': 'kill -9 of the leader of a cdr.raw partition',
  pause: 'SIGSTOP of a transaction coordinator, SIGCONT after the pause',
  controller: 'kill -9 of the active controller',
  rolling: 'rolling restart: SIGTERM each node in turn, waiting for it to rejoin',
  'broker-restart': 'the single broker stopped (SIGTERM) and started again',
  'broker-kill': 'the single broker killed (SIGKILL) and started again',
};

export interface FaultTargets {
  cursorTopic: string;
  rawTopic: string;
  rawPartitions: number;
  /** Transactional ids whose coordinators a pause may hit (the producer's slots, the enrichers'). */
  transactionalIds: string[];
}

export interface FaultTiming {
  /** How long a killed node stays down before it is started again. */
  downMs: number;
  /** How long a paused node stays stopped. */
  pauseMs: number;
}

export interface FaultRun {
  kind: FaultKind;
  /** What was hit: `node 2 (leader of x/0)`. */
  target: string;
  injectedAt: number;
  /** From when commits are expected to resume: the kill, or the SIGCONT of a pause. */
  referenceAt: number;
  /** Signals sent, in all (a rolling restart stops three nodes). */
  faults: number;
  healthyAt: number;
}

/** Injects fault `round` of `kind`, recovers the node(s) and waits for the cluster to be whole. */
export async function injectFault(
  kind: FaultKind,
  round: number,
  targets: FaultTargets,
  timing: FaultTiming,
): Promise<FaultRun> {
  const killAndRestart = async (node: number, why: string): Promise<FaultRun> => {
    const injectedAt = Date.now();
    await stopNode(node, 'SIGKILL');
    await sleep(timing.downMs);
    await startNode(node);
    await waitClusterHealthy();
    return {
      kind,
      target: `node ${node} (${why})`,
      injectedAt,
      referenceAt: injectedAt,
      faults: 1,
      healthyAt: Date.now(),
    };
  };
  switch (kind) {
    case 'cursor-leader': {
      const node = await leaderOf(targets.cursorTopic, 0);
      return killAndRestart(node, `leader of ${targets.cursorTopic}/0`);
    }
    case 'raw-leader': {
      const partition = round % targets.rawPartitions;
      const node = await leaderOf(targets.rawTopic, partition);
      return killAndRestart(node, `leader of ${targets.rawTopic}/${partition}`);
    }
    case 'controller': {
      const node = await activeController();
      return killAndRestart(node, 'active controller');
    }
    case 'pause': {
      const id = targets.transactionalIds[round % targets.transactionalIds.length] as string;
      const node = await transactionCoordinator(id);
      const injectedAt = Date.now();
      signalNode(node, 'SIGSTOP');
      await sleep(timing.pauseMs);
      signalNode(node, 'SIGCONT');
      const referenceAt = Date.now();
      await waitClusterHealthy();
      return {
        kind,
        target: `node ${node} (coordinator of ${id})`,
        injectedAt,
        referenceAt,
        faults: 1,
        healthyAt: Date.now(),
      };
    }
    case 'broker-restart':
    case 'broker-kill': {
      const injectedAt = Date.now();
      if (kind === 'broker-kill') {
        killProcess(processesOf(readState(), 'kafka')[0] ?? undefined);
        await sleep(200);
      }
      await down(['kafka']);
      await sleep(timing.downMs);
      await up(['kafka']);
      return {
        kind,
        target: 'the single broker',
        injectedAt,
        referenceAt: injectedAt,
        faults: 1,
        healthyAt: Date.now(),
      };
    }
    case 'rolling': {
      const injectedAt = Date.now();
      for (const node of [1, 2, 3]) {
        await stopNode(node, 'SIGTERM');
        await startNode(node);
        await waitClusterHealthy();
      }
      return {
        kind,
        target: 'nodes 1, 2, 3',
        injectedAt,
        referenceAt: injectedAt,
        faults: 3,
        healthyAt: Date.now(),
      };
    }
  }
}
