// Vitest global setup for the integration project: the same launcher as `npm run local:up`.
// A stack that was already running is reused and left running; one started here is stopped here.
import type { TestProject } from 'vitest/node';
import { ADDRESSES, down, up } from '../../scripts/stack/index.ts';

let startedHere: Awaited<ReturnType<typeof up>>['started'] = [];

export async function setup(project: TestProject): Promise<void> {
  const result = await up(['kafka', 'registry']);
  startedHere = result.started;
  project.provide('brokers', ADDRESSES.brokers);
  project.provide('registryUrl', ADDRESSES.registry);
}

export async function teardown(): Promise<void> {
  if (startedHere.length > 0) await down(startedHere);
}

declare module 'vitest' {
  export interface ProvidedContext {
    brokers: string;
    registryUrl: string;
  }
}
