// Helpers of the tests that need the three-node cluster: it (and the registry) brought up on first
// use, whole again (all nodes back, nothing under-replicated) before each test.
import { Kafka, logLevel } from 'kafkajs';
import { inject } from 'vitest';
import { waitClusterHealthy } from '../../scripts/stack/cluster.ts';
import { up } from '../../scripts/stack/index.ts';

export async function clusterUp(): Promise<void> {
  await up(['cluster', 'registry']);
  await waitClusterHealthy();
}

export function clusterKafka(clientId = 'cluster-test'): Kafka {
  return new Kafka({ clientId, brokers: inject('clusterBrokers').split(','), logLevel: logLevel.NOTHING });
}
