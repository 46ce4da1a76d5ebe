// The fault campaign of `./dev chaos`, short: one fault of each kind on the three-node cluster
// while the producer and two enrichers run and rows keep arriving (bench/chaos/). After each, every
// topic is read back with kcat and held against the feed: every id once in cdr.raw and once across
// the enriched topics, every broken row once in cdr.dlq, the control totals equal to cdr.raw, the
// cursors at the feed's end; commits resume; SIGTERM stops every process with 0; no error line.
import { beforeAll, describe, expect, it } from 'vitest';
import { runCampaign } from '../../bench/chaos/campaign.ts';
import { FAULT_KINDS } from '../../bench/chaos/faults.ts';
import { LOCAL } from '../../scripts/stack/paths.ts';
import { clusterUp } from '../helpers/cluster.ts';

beforeAll(clusterUp);

describe('fault campaign on three brokers', () => {
  it('one fault of each kind: nothing doubled, nothing lost, nothing stuck, clean exits', async () => {
    const result = await runCampaign({
      kinds: FAULT_KINDS,
      rounds: 1,
      rowsPerSecond: 100,
      accounts: 4,
      downMs: 5000,
      pauseMs: 15_000,
      dir: `${LOCAL}/chaos-test`,
      catchUpMs: 120_000,
      log: (line) => console.log(line),
    });
    expect(result.failure).toBeUndefined();
    expect(result.rounds.map((r) => r.run.kind)).toEqual([...FAULT_KINDS]);
    for (const r of result.rounds) {
      const label = `${r.run.kind} on ${r.run.target}`;
      for (const topic of ['raw', 'enriched', 'dlq'] as const)
        expect({ label, topic, ...r.check[topic], examples: undefined }).toEqual({
          label,
          topic,
          duplicates: 0,
          missing: 0,
          unexpected: 0,
          examples: undefined,
        });
      expect(r.check.totals, label).toEqual([]);
      expect(r.stuck, label).toEqual([]);
      expect(r.producerResumeMs, `${label}: commits resumed`).toBeDefined();
    }
    expect(Object.fromEntries(result.exitCodes)).toEqual({ producer: 0, 'enricher-1': 0, 'enricher-2': 0 });
    expect(result.errorLines).toEqual([]);
  });
});
