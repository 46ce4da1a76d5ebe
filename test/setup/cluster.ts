// Vitest global setup for the cluster project: the three-node cluster (and the registry) of
// `STACK_BROKERS=3 ./dev local:up`. The cluster project runs after the others (vitest.config.ts:
// groupOrder), and its tests start the cluster when they begin (clusterUp), so it does not run
// idle beside the single broker through the whole suite. One that was running before is reused and
// left running; one started during the run is stopped at its end.
import type { TestProject } from 'vitest/node';
import { ADDRESSES, down, status } from '../../scripts/stack/index.ts';

let wasUp = false;

export async function setup(project: TestProject): Promise<void> {
  wasUp = (await status(['cluster']))[0]?.running ?? false;
  project.provide('clusterBrokers', ADDRESSES.cluster);
  project.provide('registryUrl', ADDRESSES.registry);
}

export async function teardown(): Promise<void> {
  if (!wasUp) await down(['cluster']);
}

declare module 'vitest' {
  export interface ProvidedContext {
    clusterBrokers: string;
  }
}
