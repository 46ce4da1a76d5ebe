// Enrichers against the real broker and registry: cdr.raw is filled by the real producer from the
// simulator, then enriched; faults are a SIGKILL and a second member of the group.
import { readFileSync } from 'node:fs';
import { SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import avro from 'avsc';
import { describe, expect, inject, it } from 'vitest';
import { processesOf, readState } from '../../scripts/stack/state.ts';
import { CATALOGUE, lookupCallType } from '../../src/cdr/catalogue.ts';
import { readHeader } from '../../src/cdr/header.ts';
import { convertRow } from '../../src/cdr/row.ts';
import { TimeZone } from '../../src/cdr/time-zone.ts';
import { frame } from '../../src/codec/wire.ts';
import { loadEnricherOptions } from '../../src/config/enricher.ts';
import { startEnricher } from '../../src/enrich/index.ts';
import { cleanupAfterEach } from '../helpers/cleanups.ts';
import { type CliProcess, spawnCli } from '../helpers/cli-process.ts';
import { enricherEnv, expectOncePerRawRecord, readOutputs } from '../helpers/enricher.ts';
import { readTopics, testKafka, uniqueName } from '../helpers/kafka.ts';
import {
  cursorAt,
  memoryLogger,
  metricValue,
  producerEnv,
  startTestProducer,
  waitFor,
} from '../helpers/producer.ts';
import { SIM_ACCOUNTS, startTestSimulator } from '../helpers/simulator.ts';

const A = SIM_ACCOUNTS[0] as (typeof SIM_ACCOUNTS)[0];
const cleanups = cleanupAfterEach();

/** Fills a fresh cdr.raw with `rows` CDRs through the real producer; returns its env. */
async function fillRaw(rows: number, unknownShare = 0.05) {
  const s = await startTestSimulator({ historyRows: rows, unknownShare });
  cleanups.push(() => s.close());
  const env = producerEnv(s.url, A, { BATCH_MAX_ROWS: '5000', LOG_LEVEL: 'info', LOG_PROGRESS: 'false' });
  const { producer } = await startTestProducer(env);
  await cursorAt(producer.ops.port, A.login, A.firstId + rows - 1, 120_000);
  await producer.stop();
  return env;
}

function spawnEnricher(env: Record<string, string>): CliProcess {
  const p = spawnCli('enrich', env);
  cleanups.push(p.kill);
  return p;
}

describe('enricher', () => {
  it('enriches every record exactly once into the topic of its category, for all 21 pairs and unknown ones', async () => {
    const rows = 4000;
    const raw = await fillRaw(rows, 0.05);
    const kafka = testKafka();
    // One record no reader can decode: it must reach the DLQ with its partition and offset.
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({
      topic: raw.TOPIC_RAW,
      messages: [{ key: 'bad', value: Buffer.from('not avro at all') }],
    });
    await producer.disconnect();

    const env = enricherEnv(raw);
    const { logger, log } = memoryLogger();
    const enricher = await startEnricher(loadEnricherOptions(env), logger);
    cleanups.push(() => enricher.stop());
    await waitFor(
      'all in',
      async () =>
        (await metricValue(enricher.ops.port, 'cdr_enrich_records_in_total')) === rows + 1 ? true : undefined,
      120_000,
    );
    expect((await fetch(`http://127.0.0.1:${enricher.ops.port}/readyz`)).status).toBe(200);

    const out = await readOutputs(kafka, env, rows);
    expectOncePerRawRecord(
      out.map((o) => o.value),
      rows,
    );
    const seen = new Set<string>();
    for (const { topic, key, value } of out) {
      const info = lookupCallType(value.type, value.sub_type);
      seen.add(info ? `${value.type}/${value.sub_type}` : 'unknown');
      expect(topic).toBe(`${env.ENRICH_TOPIC_PREFIX}${info?.category ?? 'unknown'}`);
      expect(value).toMatchObject({
        call_type_known: info !== undefined,
        category: info?.category ?? 'unknown',
        call_description: info?.description ?? null,
        direction: info?.direction ?? null,
        network: info?.network ?? null,
        network_detail: info?.networkDetail ?? null,
        country: info?.country ?? null,
      });
      expect(key).toBe(value.billing_group === '' ? `account:${value.account}` : value.billing_group);
    }
    for (const c of CATALOGUE) expect(seen).toContain(`${c.type}/${c.subType}`);
    expect(seen).toContain('unknown');

    const dlq = await readTopics(kafka, [env.TOPIC_DLQ]);
    expect(dlq).toHaveLength(1);
    const entry = JSON.parse(dlq[0]?.message.value?.toString() ?? '{}') as Record<string, unknown>;
    expect(entry).toMatchObject({ errorCode: 'CDR_ENCODE_FAILED', source: { topic: raw.TOPIC_RAW } });
    expect(typeof (entry.source as { offset: string }).offset).toBe('string');
    expect(log.lines.some((l) => l.includes('"msg":"enricher started"'))).toBe(true);
  });

  it('reads records written under an earlier cdr-raw schema version', async () => {
    const raw = await fillRaw(10);
    // The first released version of cdr-raw (before layouts): the enricher of today reads it.
    const older = JSON.parse(
      readFileSync(new URL('../../schemas/history/cdr-raw/v1.avsc', import.meta.url), 'utf8'),
    ) as { fields: Array<{ name: string }> };
    const registry = new SchemaRegistry({ host: inject('registryUrl') });
    const subject = uniqueName('older-raw-value');
    const { id } = await registry.register(
      { type: SchemaType.AVRO, schema: JSON.stringify(older) },
      { subject },
    );
    const olderType = avro.Type.forSchema(older as avro.Schema);
    const header = readHeader(
      'id,account,billing_group,billing_period,start_time,from,to,seconds,type,sub_type,cost,description'.split(
        ',',
      ),
    );
    const row = [
      '77',
      '40021',
      'Old',
      '2026-11',
      '2026-11-03T09:15:02+11:00',
      '6129',
      '0412',
      '60',
      'M',
      'MG',
      '0.5',
      'old',
    ];
    const converted = convertRow(row, header, new TimeZone('UTC'), {
      ingested_at: 1,
      feed_host: 'h:1',
      line: 2,
    });
    if (!converted.ok) throw new Error('fixture row is invalid');
    const value = converted.cdr;
    const kafka = testKafka();
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({
      topic: raw.TOPIC_RAW,
      messages: [{ key: 'Old', value: frame(id, olderType.toBuffer(value)) }],
    });
    await producer.disconnect();

    const env = enricherEnv(raw);
    const { logger } = memoryLogger();
    const enricher = await startEnricher(loadEnricherOptions(env), logger);
    cleanups.push(() => enricher.stop());
    const out = await readOutputs(kafka, env, 11);
    const old = out.find((o) => o.value.id === 77);
    expect(old?.topic).toBe(`${env.ENRICH_TOPIC_PREFIX}mobile`);
    expect(old?.value).toMatchObject({
      extra: {},
      network_detail: 'GSM',
      billing_group: 'Old',
      // Fields v1 did not have: their defaults.
      layout: null,
      currency: null,
      billing_period_derived: false,
      recording: null,
    });
  });

  it('survives an enricher killed with SIGKILL mid-run: every record once downstream', async () => {
    const rows = 60_000;
    const raw = await fillRaw(rows);
    const env = enricherEnv(raw);
    const first = spawnEnricher(env);
    const port = await first.port;
    await waitFor('first batches', async () => {
      const v = (await metricValue(port, 'cdr_enrich_records_in_total').catch(() => undefined)) ?? 0;
      return v >= 10_000 ? v : undefined;
    });
    first.child.kill('SIGKILL');
    await first.exit;
    const second = spawnEnricher(env);
    await second.port;
    const out = await readOutputs(testKafka(), env, rows);
    expectOncePerRawRecord(
      out.map((o) => o.value),
      rows,
    );
    second.child.kill('SIGTERM');
    expect(await second.exit).toBe(0);
  });

  it('rides out its only broker paused for minutes: the consumer fails and is started again, no exit, every record once', async () => {
    const rows = 80_000;
    const raw = await fillRaw(rows);
    // One partition at a time: the consumer rejoins as soon as its one batch has failed.
    const env = { ...enricherEnv(raw), ENRICH_PARTITIONS_CONCURRENTLY: '1' };
    const enricher = spawnEnricher(env);
    const port = await enricher.port;
    await waitFor('first batches', async () => {
      const v = (await metricValue(port, 'cdr_enrich_records_in_total').catch(() => undefined)) ?? 0;
      return v >= 10_000 ? v : undefined;
    });
    // Transactions are in flight when the broker freezes. Each request waits out its timeout, and
    // the consumer fails one of two ways, depending on what it was doing: a request timed out, which
    // kafkajs takes as retriable and restarts the consumer itself (again and again while the broker
    // stays frozen); or a rejoin whose coordinator lookup timed out, which kafkajs takes as final
    // ("Failed to find group coordinator": it stops the consumer for good) and the enricher starts
    // it again. Both were seen here; the broker stays frozen until one of them has happened.
    const before = enricher.lines.length;
    const since = () => enricher.lines.slice(before);
    const gaveUp = (l: string) =>
      l.includes('Crash: KafkaJSNonRetriableError: Failed to find group coordinator');
    const restarted = (l: string) => l.includes('consumer crashed; kafkajs restarts it');
    const broker = processesOf(readState(), 'kafka')[0];
    if (!broker) throw new Error('no broker process of the stack');
    process.kill(broker.pid, 'SIGSTOP');
    try {
      await waitFor(
        'the consumer failing while the broker is frozen',
        () => (since().some(gaveUp) || since().filter(restarted).length >= 2 ? true : undefined),
        300_000,
      ).catch((err: Error) => {
        // Which request it was waiting on when the time ran out: the lines say.
        throw new Error(`${err.message}; its last lines:\n${enricher.lines.slice(-8).join('\n')}`);
      });
    } finally {
      process.kill(broker.pid, 'SIGCONT');
    }
    const exited = enricher.exit.then((code) => {
      throw new Error(
        `the enricher exited with ${code}; its last lines:\n${enricher.lines.slice(-3).join('\n')}`,
      );
    });
    exited.catch(() => undefined);
    const out = await Promise.race([readOutputs(testKafka(), env, rows), exited]);
    expectOncePerRawRecord(
      out.map((o) => o.value),
      rows,
    );
    expect(enricher.child.exitCode).toBeNull();
    // Given up by kafkajs, the consumer was started again by the enricher.
    if (since().some(gaveUp))
      expect(since().some((l) => l.includes('no broker answered the consumer; starting it again'))).toBe(
        true,
      );
    enricher.child.kill('SIGTERM');
    expect(await enricher.exit).toBe(0);
  }, 420_000);

  it('shares partitions between two enrichers; when one dies the other takes over, nothing lost or twice', async () => {
    const rows = 150_000;
    const raw = await fillRaw(rows);
    const env = enricherEnv(raw);
    const one = spawnEnricher(env);
    const two = spawnEnricher(env);
    const [p1, p2] = await Promise.all([one.port, two.port]);
    // Both members got partitions of the 3-partition input.
    const assigned = (c: CliProcess) =>
      c.lines.some((l) => {
        const e = JSON.parse(l) as { msg?: string; assigned?: Record<string, number[]> };
        return e.msg === 'partitions assigned' && Object.values(e.assigned ?? {}).some((p) => p.length > 0);
      });
    await waitFor('both assigned', () => (assigned(one) && assigned(two) ? true : undefined), 60_000);
    await waitFor('some work done', async () => {
      const a = (await metricValue(p1, 'cdr_enrich_records_in_total').catch(() => 0)) ?? 0;
      const b = (await metricValue(p2, 'cdr_enrich_records_in_total').catch(() => 0)) ?? 0;
      return a + b >= 10_000 ? true : undefined;
    });
    // The partitions the first member held when it died.
    const lastAssignment = (c: CliProcess) =>
      c.lines
        .map((l) => JSON.parse(l) as { msg?: string; assigned?: Record<string, number[]> })
        .filter((e) => e.msg === 'partitions assigned')
        .map((e) => Object.values(e.assigned ?? {}).flat())
        .at(-1) ?? [];
    const oneHeld = lastAssignment(one);
    one.child.kill('SIGKILL');
    await one.exit;
    const killedAt = Date.now();
    // The survivor is given every partition after the dead member's session expires.
    const assignments = () =>
      two.lines
        .map((l) => JSON.parse(l) as { msg?: string; assigned?: Record<string, number[]> })
        .filter((e) => e.msg === 'partitions assigned')
        .map((e) => Object.values(e.assigned ?? {}).flat().length);
    await waitFor('takeover', () => (assignments().at(-1) === 3 ? true : undefined), 60_000);
    const out = await readOutputs(testKafka(), env, rows);
    expectOncePerRawRecord(
      out.map((o) => o.value),
      rows,
    );
    // The killed member had not finished its share: records of its partitions were enriched
    // after it died, so by the survivor.
    expect(oneHeld.length).toBeGreaterThan(0);
    const takenOver = out.filter(
      (o) => (o.value.enriched_at as number) > killedAt && oneHeld.includes(o.value.source.partition),
    );
    expect(takenOver.length).toBeGreaterThan(0);
    two.child.kill('SIGTERM');
    expect(await two.exit).toBe(0);
  });

  it('survives zombie enrichers: frozen past the session timeout and thawed, three times, while records flow', async () => {
    const s = await startTestSimulator({ historyRows: 20_000, growthPerSecond: 400, epochMs: Date.now() });
    cleanups.push(() => s.close());
    const penv = producerEnv(s.url, A, { LOG_LEVEL: 'info', LOG_PROGRESS: 'false' });
    const { producer } = await startTestProducer(penv);
    cleanups.push(() => producer.stop());
    const env = { ...enricherEnv(penv), ENRICH_SESSION_TIMEOUT_MS: '6000', TRANSACTION_TIMEOUT_MS: '5000' };
    const members = [spawnEnricher(env), spawnEnricher(env)];
    const ports = await Promise.all(members.map((m) => m.port));
    const recordsIn = (i: number) =>
      metricValue(ports[i] as number, 'cdr_enrich_records_in_total').catch(() => undefined);
    await waitFor('both consuming', async () =>
      (await recordsIn(0)) && (await recordsIn(1)) ? true : undefined,
    );
    /** The partitions of cdr.raw a member was last given after its log line `from`; undefined: no assignment since. */
    const assignedSince = (m: CliProcess, from: number): number[] | undefined => {
      const joins = m.lines
        .slice(from)
        .flatMap((l) => {
          try {
            return [JSON.parse(l) as { msg?: string; assigned?: Record<string, number[]> }];
          } catch {
            return [];
          }
        })
        .filter((e) => e.msg === 'partitions assigned');
      const last = joins.at(-1);
      return last === undefined ? undefined : (last.assigned?.[penv.TOPIC_RAW] ?? []);
    };
    for (let cycle = 0; cycle < 3; cycle++) {
      const zombie = members[cycle % 2] as CliProcess;
      const other = members[(cycle + 1) % 2] as CliProcess;
      const frozenAt = other.lines.length;
      zombie.child.kill('SIGSTOP');
      // Past the session timeout the group moves the zombie's partitions to the other member.
      await waitFor(
        'the other member given every partition',
        async () => ((assignedSince(other, frozenAt)?.length ?? 0) === 3 ? true : undefined),
        60_000,
      );
      const thawedAt = zombie.lines.length;
      zombie.child.kill('SIGCONT');
      // Thawed, it finds its generation gone: it joins the group again (or exits non-zero).
      await waitFor(
        'the thawed member in the group again, or gone',
        async () =>
          zombie.child.exitCode !== null || assignedSince(zombie, thawedAt) !== undefined ? true : undefined,
        60_000,
      );
    }
    // After the last thaw, every member either consumes again or has exited non-zero: none is
    // alive and idle.
    const afterThaw = await Promise.all([0, 1].map(recordsIn));
    await waitFor(
      'input after the last thaw',
      async () => {
        const now = await Promise.all([0, 1].map(recordsIn));
        return members.every((m, i) =>
          m.child.exitCode !== null ? m.child.exitCode !== 0 : (now[i] ?? 0) > (afterThaw[i] ?? 0),
        )
          ? true
          : undefined;
      },
      60_000,
    );
    await producer.stop();
    const raw = (await readTopics(testKafka(), [penv.TOPIC_RAW])).length;
    const out = await readOutputs(testKafka(), env, raw);
    expectOncePerRawRecord(
      out.map((o) => o.value),
      raw,
    );
    for (const m of members) {
      if (m.child.exitCode === null) {
        m.child.kill('SIGTERM');
        expect(await m.exit).toBe(0);
      }
    }
  });
});
