// `./dev bench secured [rows]`: what TLS and SCRAM cost. The producer and the enricher on the single
// broker, over its plaintext listener and over its SASL_SSL one (SCRAM-SHA-512, the local CA) as
// their own users with ACLs (docs/security.md), alternated twice; prints each figure and the
// secured/plaintext ratio (target: at least 0.75, issue 22).
import { mkdirSync, writeFileSync } from 'node:fs';
import { Kafka, logLevel } from 'kafkajs';
import { ADDRESSES, up } from '../scripts/stack/index.ts';
import { LOCAL } from '../scripts/stack/paths.ts';
import { SECURED_USERS, type SecuredUser, scramClient } from '../scripts/stack/tls.ts';
import { type AclBinding, kafkajsAcls } from '../src/kafka/acls.ts';
import { benchEnricher } from './enricher.ts';
import { benchProducer, dropRunTopics, feedFile } from './producer.ts';

const fmt = (n: number) => Math.round(n).toLocaleString('en');

/** The benchmark's topics, groups and transactional ids are all named bench-...: the roles' operations on those. */
const BENCH_ACLS: AclBinding[] = [
  {
    resource: 'topic',
    name: 'bench-',
    pattern: 'prefixed',
    operations: ['Create', 'Describe', 'DescribeConfigs', 'Write', 'Read'],
  },
  { resource: 'group', name: 'bench-', pattern: 'prefixed', operations: ['Describe', 'Read'] },
  { resource: 'transactional-id', name: 'bench-', pattern: 'prefixed', operations: ['Describe', 'Write'] },
  { resource: 'cluster', name: 'kafka-cluster', pattern: 'literal', operations: ['IdempotentWrite'] },
];

function scram(user: SecuredUser): Record<string, string> {
  const file = `${LOCAL}/bench/${user}.password`;
  writeFileSync(file, SECURED_USERS[user], { mode: 0o600 });
  return scramClient(user, file);
}

export async function securedMain(rows: number, image: { nodeFlags: string[]; env: Record<string, string> }) {
  if (process.env.STACK_BROKERS === '3')
    throw new Error('the secured listeners are the single broker’s: run without STACK_BROKERS=3');
  await up(['kafka', 'registry']);
  mkdirSync(`${LOCAL}/bench`, { recursive: true });
  const admin = new Kafka({ brokers: [ADDRESSES.single], logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  const acl = ['cdr-producer', 'cdr-enricher'].flatMap((u) => kafkajsAcls(`User:${u}`, BENCH_ACLS));
  await admin.createAcls({ acl });
  try {
    await feedFile(rows);
    console.log('warming up (plaintext, not measured)');
    await dropRunTopics(await benchProducer(rows, { profile: false, ...image }));
    const runs: Record<'plain' | 'secured', { producer: number[]; enricher: number[] }> = {
      plain: { producer: [], enricher: [] },
      secured: { producer: [], enricher: [] },
    };
    for (let round = 1; round <= 2; round++)
      for (const mode of ['plain', 'secured'] as const) {
        const settings = (user: SecuredUser) => (mode === 'secured' ? scram(user) : {});
        const p = await benchProducer(rows, {
          profile: false,
          nodeFlags: image.nodeFlags,
          env: { ...image.env, ...settings('cdr-producer') },
        });
        const e = await benchEnricher(p.rawTopic, rows, image.nodeFlags, settings('cdr-enricher'));
        await dropRunTopics(p);
        runs[mode].producer.push(p.cdrPerSecond);
        runs[mode].enricher.push(e.recordsPerSecond);
        console.log(
          `  round ${round}, ${mode}: producer ${fmt(p.cdrPerSecond)} CDR/s, enricher ${fmt(e.recordsPerSecond)} rec/s`,
        );
      }
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    console.log(
      `\n| ${fmt(rows)} CDRs, single broker | plaintext | SASL_SSL, SCRAM-SHA-512 | ratio |\n| --- | --- | --- | --- |`,
    );
    for (const k of ['producer', 'enricher'] as const) {
      const [a, b] = [mean(runs.plain[k]), mean(runs.secured[k])];
      console.log(
        `| ${k} (mean of 2) | ${fmt(a)}/s | ${fmt(b)}/s | ${(b / a).toFixed(2)} ${b / a >= 0.75 ? '' : '(target 0.75 missed)'} |`,
      );
    }
    writeFileSync(
      `${LOCAL}/bench/secured.json`,
      `${JSON.stringify({ date: new Date().toISOString(), rows, runs }, null, 2)}\n`,
    );
  } finally {
    await admin.deleteAcls({ filters: acl });
    await admin.disconnect();
  }
}
