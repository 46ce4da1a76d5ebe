// The pipeline on the broker's secured listeners, as production runs it: SASL_SSL with
// SCRAM-SHA-512 and a private CA, SSL with client certificates (mutual TLS), the StandardAuthorizer
// allowing nothing without an ACL. Each role runs with only the ACLs `cdr-pipeline acls` lists for
// it (applied from the same code), and every refusal a person can meet is produced for real.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import kafkajs from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { kafkaClasspath } from '../../scripts/stack/kafka.ts';
import { ADDRESSES, javaBin } from '../../scripts/stack/paths.ts';
import { type SecuredUser, TLS } from '../../scripts/stack/tls.ts';
import { roleNames } from '../../src/cli/acls.ts';
import { loadEnricherOptions } from '../../src/config/enricher.ts';
import { startEnricher } from '../../src/enrich/index.ts';
import { kafkajsAcls, roleAcls } from '../../src/kafka/acls.ts';
import { cleanupAfterEach } from '../helpers/cleanups.ts';
import { runCli, spawnCli } from '../helpers/cli-process.ts';
import { enricherEnv, expectOncePerRawRecord, readOutputs } from '../helpers/enricher.ts';
import { readTopics, testKafka } from '../helpers/kafka.ts';
import {
  cursorAt,
  cursorAtLeast,
  decodeRaw,
  expectEachIdOnce,
  memoryLogger,
  metricValue,
  producerEnv,
  startTestProducer,
  waitFor,
} from '../helpers/producer.ts';
import { mtls, scram, securedHelpers } from '../helpers/secured.ts';
import { SIM_ACCOUNTS, startTestSimulator } from '../helpers/simulator.ts';

const cleanups = cleanupAfterEach();
const { grant, expectNoSecret } = securedHelpers(cleanups);
const A = SIM_ACCOUNTS[0] as (typeof SIM_ACCOUNTS)[number];
const dir = mkdtempSync(join(tmpdir(), 'cdr-secured-'));
/**
 * The body of the service's /readyz once it answers 503 naming Kafka's refusal (a 503 while the
 * group rebalances, before the refusal is met, is not it).
 */
function unready(port: number): Promise<string> {
  return waitFor(
    'readyz false, naming the refusal',
    async () => {
      const r = await fetch(`http://127.0.0.1:${port}/readyz`);
      const body = await r.text();
      return r.status === 503 && body.includes('Kafka denied') ? body : undefined;
    },
    30_000,
  );
}

/** Waits until the service's /readyz answers 200. */
async function readyAgain(port: number, timeoutMs: number): Promise<void> {
  await waitFor(
    'readyz true',
    async () => (await fetch(`http://127.0.0.1:${port}/readyz`)).status === 200,
    timeoutMs,
  );
}

describe('secured listeners, least privilege', () => {
  const listeners = {
    'SASL_SSL (SCRAM-SHA-512)': (user: SecuredUser) => scram(user),
    'mutual TLS': (user: SecuredUser) => mtls(user),
  };
  it.each([
    ['SASL_SSL (SCRAM-SHA-512)', 'mutual TLS'],
    ['mutual TLS', 'SASL_SSL (SCRAM-SHA-512)'],
  ] as const)(
    'the producer over %s and the enricher over %s, each with only its ACLs',
    async (producerOver, enricherOver) => {
      const rows = 300;
      const s = await startTestSimulator({ historyRows: rows });
      cleanups.push(() => s.close());
      const env = producerEnv(s.url, A, { ...listeners[producerOver]('cdr-producer'), LOG_LEVEL: 'info' });
      await grant('producer', env);
      const { producer, log } = await startTestProducer(env);
      cleanups.push(() => producer.stop());
      await cursorAt(producer.ops.port, A.login, A.firstId + rows - 1, 60_000);
      expect((await fetch(`http://127.0.0.1:${producer.ops.port}/readyz`)).status).toBe(200);
      const raw = await readTopics(testKafka(), [env.TOPIC_RAW]);
      expectEachIdOnce(
        raw.map((r) => decodeRaw(r.message).id),
        A.firstId,
        A.firstId + rows - 1,
      );

      const eenv = { ...enricherEnv(env), ...listeners[enricherOver]('cdr-enricher') };
      await grant('enricher', eenv);
      const { logger, log: elog } = memoryLogger();
      const enricher = await startEnricher(loadEnricherOptions(eenv), logger);
      cleanups.push(() => enricher.stop());
      await waitFor(
        'every record enriched',
        async () =>
          (await metricValue(enricher.ops.port, 'cdr_enrich_records_in_total')) === rows ? true : undefined,
        60_000,
      );
      expectOncePerRawRecord(
        (await readOutputs(testKafka(), eenv, rows)).map((o) => o.value),
        rows,
      );
      expect((await fetch(`http://127.0.0.1:${enricher.ops.port}/readyz`)).status).toBe(200);
      const metrics = await (await fetch(`http://127.0.0.1:${producer.ops.port}/metrics`)).text();
      expectNoSecret(
        log.lines.join('\n'),
        elog.lines.join('\n'),
        metrics,
        raw.map((r) => r.message.value?.toString('latin1')).join(''),
      );
    },
  );

  it('the commands `cdr-pipeline acls producer` prints, run by Kafka’s own kafka-acls tool, are all the producer needs', async () => {
    const rows = 100;
    const s = await startTestSimulator({ historyRows: rows });
    cleanups.push(() => s.close());
    const env = producerEnv(s.url, A, { ...scram('cdr-producer'), LOG_LEVEL: 'warn' });
    const printed = await runCli(['acls', 'producer', '--bootstrap-server', ADDRESSES.single], env);
    expect(printed.code).toBe(0);
    const commands = printed.stdout.trim().split('\n');
    expect(commands.every((c) => c.startsWith('kafka-acls.sh '))).toBe(true);
    // Revoked after the test (the same bindings, by kafkajs).
    const all = kafkajsAcls('User:cdr-producer', roleAcls('producer', roleNames('producer', env)));
    const admin = testKafka().admin();
    await admin.connect();
    cleanups.push(async () => {
      await admin.deleteAcls({ filters: all });
      await admin.disconnect();
    });
    // kafka-acls.sh is Kafka's AclCommand; admin.properties is the admin's client settings (none
    // on the plaintext listener).
    const work = mkdtempSync(join(tmpdir(), 'cdr-acls-'));
    writeFileSync(join(work, 'admin.properties'), '');
    const script = `kafka-acls.sh() { "$JAVA" -cp "$CP" org.apache.kafka.tools.AclCommand "$@"; }\n${commands.join('\n')}\n`;
    execFileSync('bash', ['-e', '-c', script], {
      cwd: work,
      env: { ...process.env, CP: kafkaClasspath(), JAVA: javaBin() },
      stdio: 'ignore',
    });
    const { producer } = await startTestProducer(env);
    cleanups.push(() => producer.stop());
    await cursorAt(producer.ops.port, A.login, A.firstId + rows - 1, 60_000);
  });

  it('every reading tool over SASL_SSL, and over mutual TLS, with only the tools role’s ACLs', async () => {
    const rows = 120;
    const s = await startTestSimulator({ historyRows: rows });
    cleanups.push(() => s.close());
    const penv = producerEnv(s.url, A, { LOG_LEVEL: 'warn' });
    const { producer } = await startTestProducer(penv);
    await cursorAt(producer.ops.port, A.login, A.firstId + rows - 1, 60_000);
    await producer.stop();

    const env: Record<string, string> = {
      ...scram('cdr-tools'),
      SCHEMA_REGISTRY_URL: penv.SCHEMA_REGISTRY_URL,
      TOPIC_RAW: penv.TOPIC_RAW,
      TOPIC_CURSOR: penv.TOPIC_CURSOR,
      TOPIC_CONTROL: penv.TOPIC_CONTROL,
      TOPIC_CONTROL_TOTALS: penv.TOPIC_CONTROL_TOTALS,
      TOPIC_DLQ: penv.TOPIC_DLQ,
      TRANSACTIONAL_ID_PREFIX: penv.TRANSACTIONAL_ID_PREFIX,
      ENRICH_GROUP_ID: `${penv.TRANSACTIONAL_ID_PREFIX}-enrichers`,
    };
    // Without its ACLs the tools see nothing: refused, exit 2, naming the topic.
    const denied = await runCli(['search', '--json', '--limit', '5'], env);
    expect(denied.code).toBe(2);
    expect(denied.stderr.trim().split('\n')).toHaveLength(1);
    expect(denied.stderr).toMatch(/Kafka denied .*topic/);

    await grant('tools', env);
    const out: string[] = [];
    const run = async (args: string[], code = 0) => {
      const r = await runCli(args, env);
      out.push(r.stdout, r.stderr);
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(code);
      return r.stdout;
    };
    const status = JSON.parse(await run(['status', '--json'])) as {
      accounts: Array<{ account: string; lastId: number }>;
    };
    expect(status.accounts.find((a) => a.account === A.login)?.lastId).toBe(A.firstId + rows - 1);
    const found = JSON.parse(
      await run(['search', '--json', '--id-from', String(A.firstId), '--id-to', String(A.firstId + 9)]),
    ) as { matched: number };
    expect(found.matched).toBe(10);
    const csv = join(dir, `export-${Date.now()}.csv`);
    await run(['export', '--format', 'csv', '--output', csv]);
    const report = JSON.parse(await run(['reconcile', '--format', 'json'])) as { ok?: boolean };
    expect(report).toBeTypeOf('object');
    expect(await run(['cursor', 'show'])).toContain(A.login);
    await run(['dlq', 'list', '--json']);
    // SCRAM-SHA-256, the other SCRAM mechanism, on the same listener and user.
    const sha256 = await runCli(
      ['search', '--json', '--id-from', String(A.firstId), '--id-to', String(A.firstId + 2)],
      {
        ...env,
        KAFKA_SASL_MECHANISM: 'scram-sha-256',
      },
    );
    expect(sha256.code, sha256.stderr).toBe(0);
    expect((JSON.parse(sha256.stdout) as { matched: number }).matched).toBe(3);
    // The same principal by its certificate on the mutual-TLS listener.
    Object.assign(
      env,
      { KAFKA_SASL_MECHANISM: '', KAFKA_SASL_USERNAME: '', KAFKA_SASL_PASSWORD_FILE: '' },
      mtls('cdr-tools'),
    );
    for (const k of ['KAFKA_SASL_MECHANISM', 'KAFKA_SASL_USERNAME', 'KAFKA_SASL_PASSWORD_FILE'])
      delete env[k];
    const overTls = JSON.parse(
      await run(['search', '--json', '--id-from', String(A.firstId), '--id-to', String(A.firstId + 4)]),
    ) as { matched: number };
    expect(overTls.matched).toBe(5);
    expectNoSecret(...out);
  });

  it('each refusal is one line naming what to check, exit 2, and no secret', async () => {
    const base = { SCHEMA_REGISTRY_URL: 'http://127.0.0.1:1' };
    const cases: Array<[string, Record<string, string>, RegExp]> = [
      [
        'wrong password',
        scram('cdr-tools', 'not-the-password'),
        /refused the SASL SCRAM-SHA-512 login of User:cdr-tools .*KAFKA_SASL_PASSWORD_FILE/,
      ],
      [
        'unknown user',
        scram('nobody-here', 'whatever'),
        /refused the SASL SCRAM-SHA-512 login of User:nobody-here .*KAFKA_SASL_USERNAME/,
      ],
      [
        'a CA that did not sign the broker',
        { ...scram('cdr-tools'), KAFKA_SSL_CA_FILE: TLS.otherCa },
        /not signed by a CA this client trusts .*KAFKA_SSL_CA_FILE/,
      ],
      [
        'an expired client certificate',
        { ...mtls('cdr-tools'), KAFKA_SSL_CERT_FILE: TLS.expired.cert, KAFKA_SSL_KEY_FILE: TLS.expired.key },
        /KAFKA_SSL_CERT_FILE.*expired/,
      ],
      [
        'no client certificate where one is required',
        { ...mtls('cdr-tools'), KAFKA_SSL_CERT_FILE: '', KAFKA_SSL_KEY_FILE: '' },
        /wants a client certificate; set KAFKA_SSL_CERT_FILE/,
      ],
      [
        'plaintext against the TLS port',
        { KAFKA_BROKERS: ADDRESSES.singleSaslSsl },
        /speaks TLS and this client does not: set KAFKA_SSL=true/,
      ],
      [
        'TLS against the plaintext port',
        { KAFKA_BROKERS: ADDRESSES.single, KAFKA_SSL: 'true', KAFKA_SSL_CA_FILE: TLS.ca },
        /does not speak TLS: check KAFKA_SSL/,
      ],
    ];
    for (const [what, settings, expected] of cases) {
      const env = { ...base, ...Object.fromEntries(Object.entries(settings).filter(([, v]) => v !== '')) };
      const r = await runCli(['status'], env);
      expect(r.code, `${what}: ${r.stderr}`).toBe(2);
      const lines = r.stderr.trim().split('\n');
      expect(lines, what).toHaveLength(1);
      expect(lines[0], what).toMatch(expected);
      expectNoSecret(r.stdout, r.stderr);
      expect(r.stderr).not.toContain('not-the-password');
    }
  });

  it('a missing ACL: at start exit 2 naming the operation and the resource; later /readyz false, and nothing lost once granted', async () => {
    const s = await startTestSimulator({ historyRows: 50, growthPerSecond: 20, epochMs: Date.now() });
    cleanups.push(() => s.close());
    const env = producerEnv(s.url, A, {
      ...scram('cdr-producer'),
      LOG_LEVEL: 'info',
      FEED_AUTH_RETRY_MS: '300',
    });
    const { CREATE: create, WRITE: write } = kafkajs.AclOperationTypes;
    const noCreate = await grant(
      'producer',
      env,
      (a) => a.resourceName === env.TOPIC_RAW && a.operation === create,
    );
    const refused = spawnCli('produce', env);
    cleanups.push(refused.kill);
    expect(await refused.exit).toBe(2);
    const fatal = refused.lines.filter((l) => l.includes('"level":"fatal"'));
    expect(fatal).toHaveLength(1);
    expect(fatal[0]).toContain(
      `Kafka denied Create on topic ${env.TOPIC_RAW} to User:cdr-producer (TOPIC_AUTHORIZATION_FAILED)`,
    );
    expectNoSecret(refused.lines.join('\n'));

    await noCreate.admin.createAcls({
      acl: kafkajsAcls('User:cdr-producer', roleAcls('producer', roleNames('producer', env))),
    });
    const { producer, log } = await startTestProducer(env);
    cleanups.push(() => producer.stop());
    await cursorAtLeast(producer.ops.port, A.login, A.firstId + 49, 60_000);
    // Write on cdr.raw taken away while it runs: not ready, and /readyz says what is missing.
    const writeOnRaw = kafkajsAcls(
      'User:cdr-producer',
      roleAcls('producer', roleNames('producer', env)),
    ).filter((a) => a.resourceName === env.TOPIC_RAW && a.operation === write);
    await noCreate.admin.deleteAcls({ filters: writeOnRaw });
    const body = await unready(producer.ops.port);
    expect(body).toContain(`Kafka denied Write on topic ${env.TOPIC_RAW}`);
    const stuck = (await metricValue(producer.ops.port, 'cdr_cursor_id', { account: A.login })) as number;
    await noCreate.admin.createAcls({ acl: writeOnRaw });
    // Granted again: it goes on from its cursor, and is ready again.
    const later = await cursorAtLeast(producer.ops.port, A.login, stuck + 20, 60_000);
    await readyAgain(producer.ops.port, 10_000);
    await producer.stop();
    const raw = await readTopics(testKafka(), [env.TOPIC_RAW]);
    const ids = raw.map((r) => decodeRaw(r.message).id).filter((id) => id <= later);
    expectEachIdOnce(ids, A.firstId, later);
    expectNoSecret(log.lines.join('\n'));
  });

  it('an enricher that loses Write on its outputs while it runs: /readyz false naming it; granted again, every record once', async () => {
    const s = await startTestSimulator({ historyRows: 200, growthPerSecond: 20, epochMs: Date.now() });
    cleanups.push(() => s.close());
    const penv = producerEnv(s.url, A, { LOG_LEVEL: 'warn' });
    const { producer } = await startTestProducer(penv);
    cleanups.push(() => producer.stop());
    await cursorAtLeast(producer.ops.port, A.login, A.firstId + 199, 60_000);
    const eenv = { ...enricherEnv(penv), ...mtls('cdr-enricher') };
    const granted = await grant('enricher', eenv);
    const { logger, log } = memoryLogger();
    const enricher = await startEnricher(loadEnricherOptions(eenv), logger);
    cleanups.push(() => enricher.stop());
    const metric = async () => (await metricValue(enricher.ops.port, 'cdr_enrich_records_in_total')) ?? 0;
    await waitFor('the history enriched', async () => ((await metric()) >= 200 ? true : undefined), 60_000);
    const writeOutputs = granted.acl.filter(
      (a) => a.resourceName === eenv.ENRICH_TOPIC_PREFIX && a.operation === kafkajs.AclOperationTypes.WRITE,
    );
    await granted.admin.deleteAcls({ filters: writeOutputs });
    const body = await unready(enricher.ops.port);
    expect(body).toMatch(
      new RegExp(`Kafka denied Write on topic ${eenv.ENRICH_TOPIC_PREFIX.replaceAll('.', '\\.')}`),
    );
    await granted.admin.createAcls({ acl: writeOutputs });
    await readyAgain(enricher.ops.port, 60_000);
    await producer.stop();
    const total = (await readTopics(testKafka(), [penv.TOPIC_RAW])).length;
    await waitFor('all enriched', async () => ((await metric()) === total ? true : undefined), 60_000);
    expectOncePerRawRecord(
      (await readOutputs(testKafka(), eenv, total)).map((o) => o.value),
      total,
    );
    expectNoSecret(log.lines.join('\n'));
  });
});
