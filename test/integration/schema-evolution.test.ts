// cdr-raw v2 (layouts) against the registry and readers of v1: both layouts publish under one
// subject, the registry holds v1 and v2 under it (BACKWARD), and a reader still on v1 reads v2
// records through schema resolution. (The enricher on v1 records: enricher.test.ts.)
import { readFileSync } from 'node:fs';
import { COMPATIBILITY, SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import avro from 'avsc';
import { describe, expect, inject, it } from 'vitest';
import { fetchSchemaText } from '../../src/codec/registry.ts';
import { unframe } from '../../src/codec/wire.ts';
import { cleanupAfterEach } from '../helpers/cleanups.ts';
import { readTopics, testKafka } from '../helpers/kafka.ts';
import { metricValue, producerEnv, startTestProducer, waitFor } from '../helpers/producer.ts';
import { SIM_ACCOUNTS, startTestSimulator } from '../helpers/simulator.ts';

const [A, B] = SIM_ACCOUNTS as [(typeof SIM_ACCOUNTS)[0], (typeof SIM_ACCOUNTS)[0]];
const cleanups = cleanupAfterEach();
const v1 = JSON.parse(
  readFileSync(new URL('../../schemas/history/cdr-raw/v1.avsc', import.meta.url), 'utf8'),
);

describe('cdr-raw schema evolution', () => {
  it('publishes both layouts under one subject holding v1 and v2, and a v1 reader reads the v2 records', async () => {
    const registryUrl = inject('registryUrl');
    const registry = new SchemaRegistry({ host: registryUrl });
    // The topic's subject as a v1 deployment left it.
    const base = producerEnv('http://127.0.0.1:1', A);
    const subject = `${base.TOPIC_RAW}-value`;
    const { id: v1Id } = await registry.register(
      { type: SchemaType.AVRO, schema: JSON.stringify(v1) },
      { subject, compatibility: COMPATIBILITY.BACKWARD },
    );

    const contract = await startTestSimulator({ historyRows: 50 });
    const legacy = await startTestSimulator({ historyRows: 50, layout: 'legacy17' });
    cleanups.push(
      () => contract.close(),
      () => legacy.close(),
    );
    const shared = {
      TOPIC_RAW: base.TOPIC_RAW,
      TOPIC_CURSOR: base.TOPIC_CURSOR,
      TOPIC_DLQ: base.TOPIC_DLQ,
      TOPIC_CONTROL: base.TOPIC_CONTROL,
      TOPIC_CONTROL_TOTALS: base.TOPIC_CONTROL_TOTALS,
    };
    for (const [sim, account] of [
      [contract, A],
      [legacy, B],
    ] as const) {
      const { producer } = await startTestProducer(producerEnv(sim.url, account, shared));
      await waitFor('all 50', async () =>
        (await metricValue(producer.ops.port, 'cdr_cursor_id', { account: account.login })) ===
        account.firstId + 49
          ? true
          : undefined,
      );
      await producer.stop();
    }

    const versions = (await (await fetch(`${registryUrl}/subjects/${subject}/versions`)).json()) as number[];
    expect(versions).toHaveLength(2);
    const records = await readTopics(testKafka(), [base.TOPIC_RAW]);
    expect(records).toHaveLength(100);
    const ids = new Set(records.map((r) => unframe(r.message.value as Buffer).schemaId));
    // One schema (v2) for the records of both layouts, and it is not v1.
    expect(ids.size).toBe(1);
    const [writerId] = [...ids] as [number];
    expect(writerId).not.toBe(v1Id);

    // A consumer still on v1: the writer schema from the registry, resolved into its own.
    const writer = avro.Type.forSchema(
      JSON.parse((await fetchSchemaText({ url: registryUrl }, writerId)) as string),
    );
    const reader = avro.Type.forSchema(v1);
    const resolver = reader.createResolver(writer);
    const read = records.map(
      (r) => reader.fromBuffer(unframe(r.message.value as Buffer).body, resolver) as Record<string, unknown>,
    );
    expect(read.filter((v) => v.account === A.login)).toHaveLength(50);
    // The 17-column rows have no account column: the login is their account, for v1 readers too.
    expect(read.filter((v) => v.account === B.login)).toHaveLength(50);
    for (const v of read) {
      expect(Object.keys(v).sort()).toEqual(v1.fields.map((f: { name: string }) => f.name).sort());
      expect(typeof v.id).toBe('number');
    }
  });
});
