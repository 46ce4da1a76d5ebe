// Vitest global setup for the integration project: the same launcher as `npm run local:up` (Kafka,
// the registry, the S3 server and the egress proxy; each test runs its own feed simulator).
// A stack that was already running is reused and left running; one started here is stopped here.
import type { TestProject } from 'vitest/node';
import { ADDRESSES, down, up } from '../../scripts/stack/index.ts';

let startedHere: Awaited<ReturnType<typeof up>>['started'] = [];

export async function setup(project: TestProject): Promise<void> {
  const result = await up(['kafka', 'registry', 's3', 'proxy']);
  startedHere = result.started;
  project.provide('brokers', ADDRESSES.brokers);
  project.provide('registryUrl', ADDRESSES.registry);
  project.provide('s3Url', ADDRESSES.s3);
  project.provide('proxyUrl', ADDRESSES.proxy);
}

export async function teardown(): Promise<void> {
  if (startedHere.length > 0) await down(startedHere);
}

declare module 'vitest' {
  export interface ProvidedContext {
    brokers: string;
    registryUrl: string;
    /** The S3 server (s3proxy) of the recordings. */
    s3Url: string;
    /** The forward proxy whose connections leave from the egress address 127.0.0.2. */
    proxyUrl: string;
  }
}
