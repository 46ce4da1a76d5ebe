// docker-compose.yml and the Helm chart against what the code expects. No Docker engine or
// cluster here: the compose file is read as data, the chart is rendered by a real `helm template`.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments, stringify } from 'yaml';
import { RECORDINGS_NODE_FLAGS } from '../../scripts/node-flags.ts';
import { enricherEnvSchema } from '../../src/config/enricher.ts';
import { kafkaEnvSchema } from '../../src/config/kafka.ts';
import { loadProducerOptions, producerEnvSchema } from '../../src/config/producer.ts';
import { loadRecordingsOptions, recordingsEnvSchema } from '../../src/config/recordings.ts';
import { DEFAULT_SIM_ACCOUNTS, simulatorEnvSchema } from '../../src/config/simulator.ts';
import { enricherMetrics } from '../../src/enrich/metrics.ts';
import { producerMetrics } from '../../src/producer/metrics.ts';
import { recordingsMetrics } from '../../src/recordings/metrics.ts';

const ROOT = new URL('../../', import.meta.url).pathname;
type Doc = Record<string, unknown> & {
  kind: string;
  metadata: { name: string };
  spec?: Record<string, unknown>;
};

describe('docker-compose.yml', () => {
  const compose = parse(readFileSync(`${ROOT}docker-compose.yml`, 'utf8'), { merge: true }) as {
    services: Record<
      string,
      {
        image?: string;
        command?: string[];
        environment?: Record<string, string>;
        healthcheck?: unknown;
        depends_on?: Record<string, { condition: string }>;
        secrets?: string[];
        profiles?: string[];
      }
    >;
    secrets: Record<string, { file: string }>;
  };
  const s = compose.services;

  it('runs Kafka 4.x in KRaft mode, a Confluent-compatible registry, the simulator, a producer, two enrichers, the recordings stage and its S3 server', () => {
    // By default: the services without a profile.
    expect(
      Object.entries(s)
        .filter(([, x]) => x.profiles === undefined)
        .map(([name]) => name)
        .sort(),
    ).toEqual(['enricher-1', 'enricher-2', 'kafka', 'producer', 'recordings', 'registry', 's3', 'simulator']);
    expect(s.recordings?.command).toEqual(['recordings']);
    expect(s.kafka?.image).toMatch(/^apache\/kafka:4\./);
    expect(s.kafka?.environment?.KAFKA_PROCESS_ROLES).toBe('broker,controller');
    expect(s.kafka?.environment?.KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR).toBe('1');
    expect(s.registry?.image).toMatch(/^apicurio\/apicurio-registry:3\./);
    expect(s.producer?.command).toEqual(['produce']);
    expect(s['enricher-1']?.command).toEqual(['enrich']);
    expect(s['enricher-2']?.command).toEqual(['enrich']);
    expect(s.simulator?.command).toEqual(['simulate']);
    for (const name of ['kafka', 'registry', 'simulator']) expect(s[name]?.healthcheck, name).toBeDefined();
    expect(s.producer?.depends_on).toMatchObject({
      kafka: { condition: 'service_healthy' },
      registry: { condition: 'service_healthy' },
      simulator: { condition: 'service_healthy' },
    });
  });

  it('has the three-node cluster in the cluster profile: one cluster id, replication 3, min.insync.replicas 2', () => {
    const nodes = ['kafka-1', 'kafka-2', 'kafka-3'].map((n) => s[n]);
    const envs = nodes.map((n) => n?.environment ?? {});
    expect(nodes.every((n) => n?.profiles?.includes('cluster'))).toBe(true);
    expect(envs.map((e) => e.KAFKA_NODE_ID)).toEqual(['1', '2', '3']);
    expect(new Set(envs.map((e) => e.CLUSTER_ID)).size).toBe(1);
    for (const e of envs) {
      expect(e.KAFKA_CONTROLLER_QUORUM_VOTERS).toBe('1@kafka-1:9093,2@kafka-2:9093,3@kafka-3:9093');
      expect(e).toMatchObject({
        KAFKA_DEFAULT_REPLICATION_FACTOR: '3',
        KAFKA_MIN_INSYNC_REPLICAS: '2',
        KAFKA_UNCLEAN_LEADER_ELECTION_ENABLE: 'false',
        KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR: '3',
        KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR: '3',
        KAFKA_TRANSACTION_STATE_LOG_MIN_ISR: '2',
      });
    }
    const producerKeys = new Set([
      ...Object.keys(producerEnvSchema.shape),
      ...Object.keys(kafkaEnvSchema.shape),
    ]);
    const enricherKeys = new Set([
      ...Object.keys(enricherEnvSchema.shape),
      ...Object.keys(kafkaEnvSchema.shape),
    ]);
    for (const [name, keys] of [
      ['producer-cluster', producerKeys],
      ['enricher-cluster-1', enricherKeys],
      ['enricher-cluster-2', enricherKeys],
    ] as const) {
      const env = s[name]?.environment ?? {};
      expect(s[name]?.profiles, name).toEqual(['cluster']);
      expect(env.KAFKA_BROKERS, name).toBe('kafka-1:9092,kafka-2:9092,kafka-3:9092');
      expect(env.TOPIC_REPLICATION_FACTOR, name).toBe('3');
      for (const key of Object.keys(env)) expect(keys, `${name} ${key}`).toContain(key);
    }
  });

  it('configures each command with variables its config schema knows, and the same topics everywhere', () => {
    const known = (schemas: Array<{ shape: object }>) =>
      new Set(schemas.flatMap((x) => Object.keys(x.shape)));
    const producerKeys = known([producerEnvSchema, kafkaEnvSchema]);
    const enricherKeys = known([enricherEnvSchema, kafkaEnvSchema]);
    for (const key of Object.keys(s.producer?.environment ?? {})) expect(producerKeys, key).toContain(key);
    for (const e of ['enricher-1', 'enricher-2']) {
      for (const key of Object.keys(s[e]?.environment ?? {})) expect(enricherKeys, key).toContain(key);
    }
    for (const key of Object.keys(s.simulator?.environment ?? {}))
      expect(known([simulatorEnvSchema]), key).toContain(key);
    // The recordings stage: its keys, the simulator's recordings, and secrets only as files.
    const recordings = s.recordings?.environment ?? {};
    for (const key of Object.keys(recordings))
      expect(known([recordingsEnvSchema, kafkaEnvSchema]), key).toContain(key);
    expect(recordings.RECORDINGS_URL).toBe(
      `http://simulator:${s.simulator?.environment?.SIM_PORT}/recordings/`,
    );
    expect(recordings.S3_ENDPOINT).toMatch(/^http:\/\/s3:/);
    expect(
      Object.keys(recordings).filter((k) => /PASSWORD$|SECRET_ACCESS_KEY$|ACCESS_KEY_ID$/.test(k)),
    ).toEqual([]);
    const topic = (env: Record<string, string> | undefined, key: string) => env?.[key] ?? 'default';
    for (const key of ['TOPIC_RAW', 'TOPIC_DLQ']) {
      expect(topic(s['enricher-1']?.environment, key)).toBe(topic(s.producer?.environment, key));
    }
    expect(s.producer?.environment?.FEED_URL).toBe(`http://simulator:${s.simulator?.environment?.SIM_PORT}`);
    expect(s.producer?.environment?.KAFKA_BROKERS).toBe('kafka:9092');
  });

  it('gives the producer its feed credentials as a secret file, not an environment value', () => {
    expect(s.producer?.environment?.FEED_ACCOUNTS_FILE).toBe('/run/secrets/feed-accounts');
    expect(s.producer?.secrets).toEqual(['feed-accounts']);
    const accounts = JSON.parse(
      readFileSync(
        `${ROOT}compose/${compose.secrets['feed-accounts']?.file.replace('./compose/', '')}`,
        'utf8',
      ),
    );
    expect(accounts).toEqual(DEFAULT_SIM_ACCOUNTS.map(({ login, password }) => ({ login, password })));
    const env = JSON.stringify(Object.values(s).map((x) => x.environment));
    for (const a of DEFAULT_SIM_ACCOUNTS) expect(env).not.toContain(a.password);
  });
});

const HELM = process.env.HELM_BIN ?? `${ROOT}.tools/helm/helm`;
const CHART = `${ROOT}helm/cdr-pipeline`;

interface PodSpec {
  containers: Array<{ env: Array<{ name: string; value?: string }> }>;
  volumes: Array<{ name: string; secret?: { secretName: string } }>;
}

function render(extra: string[] = []): Doc[] {
  if (!existsSync(HELM))
    throw new Error(`helm not found at ${HELM}: run scripts/ensure-helm.sh (./dev setup does)`);
  const out = execFileSync(HELM, ['template', 'rel', CHART, ...extra], { encoding: 'utf8' });
  return parseAllDocuments(out)
    .map((d) => d.toJS() as Doc)
    .filter(Boolean);
}

describe('Helm chart', () => {
  const multi = ['-f', `${CHART}/ci/multi-account-values.yaml`];
  /** The multi-account values with the recordings stage on, against an existing bucket. */
  const withRecordings = [
    ...multi,
    '--set',
    'recordings.enabled=true',
    '--set',
    'recordings.url=https://carrier.example/recordings/',
    '--set',
    'recordings.s3.bucket=billing-recordings',
  ];

  it('renders one single-replica, Recreate producer Deployment per account group', () => {
    for (const [args, groups] of [
      [[], ['main']],
      [multi, ['east', 'west']],
    ] as const) {
      const producers = render([...args]).filter(
        (d) => d.kind === 'Deployment' && d.metadata.name.includes('-producer-'),
      );
      expect(producers.map((d) => d.metadata.name)).toEqual(
        groups.map((g) => `rel-cdr-pipeline-producer-${g}`),
      );
      for (const p of producers) {
        expect(p.spec).toMatchObject({ replicas: 1, strategy: { type: 'Recreate' } });
      }
    }
  });

  it("gives each producer group its own transactional id prefix and pool size (groups' slots never fence each other)", () => {
    const envOf = (d: Doc) => {
      const spec = d.spec as {
        template: { spec: { containers: Array<{ env?: Array<{ name: string; value?: string }> }> } };
      };
      return Object.fromEntries((spec.template.spec.containers[0]?.env ?? []).map((e) => [e.name, e.value]));
    };
    const producers = render([...multi, '--set', 'producer.groups[1].poolSize=8']).filter(
      (d) => d.kind === 'Deployment' && d.metadata.name.includes('-producer-'),
    );
    expect(producers.map(envOf).map((e) => [e.TRANSACTIONAL_ID_PREFIX, e.PRODUCER_POOL_SIZE])).toEqual([
      ['rel-producer-east', '4'],
      ['rel-producer-west', '8'],
    ]);
  });

  it('bounds the enricher autoscaler by the partition count', () => {
    const docs = render(multi);
    const hpa = docs.find((d) => d.kind === 'HorizontalPodAutoscaler');
    expect(hpa?.spec).toMatchObject({
      maxReplicas: 4,
      scaleTargetRef: { name: 'rel-cdr-pipeline-enricher' },
    });
    expect(render().find((d) => d.kind === 'HorizontalPodAutoscaler')?.spec).toMatchObject({
      maxReplicas: 6,
    });
  });

  it('keeps secrets in the Secret only, mounted as files', () => {
    const docs = render(multi);
    const secretValues = [
      'ci-sasl-secret-value',
      'ci-registry-secret-value',
      'ci-feed-secret-east-1',
      'ci-feed-secret-west-1',
    ];
    for (const d of docs.filter((x) => x.kind !== 'Secret')) {
      const text = JSON.stringify(d);
      for (const v of secretValues) expect(text, `${d.kind} ${d.metadata.name}`).not.toContain(v);
    }
    const secret = docs.find((d) => d.kind === 'Secret') as Doc & { stringData: Record<string, string> };
    expect(Object.keys(secret.stringData).sort()).toEqual([
      'east-accounts.json',
      'kafka-sasl-password',
      'schema-registry-password',
      'west-accounts.json',
    ]);
    const pods = docs.filter((d) => d.kind === 'Deployment');
    for (const d of pods) {
      const pod = (
        d.spec as {
          template: {
            spec: { containers: Array<Record<string, unknown>>; volumes: Array<Record<string, unknown>> };
          };
        }
      ).template.spec;
      expect(
        pod.volumes.some(
          (v) => (v.secret as { secretName?: string } | undefined)?.secretName === 'rel-cdr-pipeline-secrets',
        ),
      ).toBe(true);
      const env = pod.containers[0]?.env as Array<{ name: string; value?: string }>;
      for (const e of env)
        expect(e.name.endsWith('PASSWORD') || e.name === 'FEED_PASSWORD', e.name).toBe(false);
      expect(env.find((e) => e.name === 'KAFKA_SASL_PASSWORD_FILE')?.value).toBe(
        '/etc/cdr-pipeline/secrets/kafka-sasl-password',
      );
    }
    // With an existing Secret the chart makes none of its own.
    const existing = render([...multi, '--set', 'secrets.existingSecret=mine']);
    expect(existing.find((d) => d.kind === 'Secret')).toBeUndefined();
  });

  it('connects every command to a secured cluster: a private CA and a client certificate mounted from Secrets, OAUTHBEARER from a token file', () => {
    const docs = render([
      ...withRecordings,
      '--set',
      'kafka.ssl=true',
      '--set',
      'kafka.tls.caSecret=kafka-ca',
      '--set',
      'kafka.tls.clientSecret=kafka-client-cert',
      '--set',
      'kafka.sasl.mechanism=oauthbearer',
      '--set',
      'kafka.sasl.oauth.tokenFile=/var/run/secrets/kafka/token',
    ]);
    const config = docs.find((d) => d.kind === 'ConfigMap' && d.metadata.name.endsWith('-config')) as Doc & {
      data: Record<string, string>;
    };
    const deployments = docs.filter((d) => d.kind === 'Deployment');
    expect(deployments.length).toBeGreaterThanOrEqual(4);
    for (const d of deployments) {
      const pod = (
        d.spec as {
          template: {
            spec: {
              containers: Array<{
                env: Array<{ name: string; value?: string }>;
                volumeMounts: Array<{ name: string; mountPath: string }>;
              }>;
              volumes: Array<{
                name: string;
                secret?: { secretName: string; items: Array<{ key: string }> };
              }>;
            };
          };
        }
      ).template.spec;
      const c = pod.containers[0] as (typeof pod.containers)[number];
      const env = Object.fromEntries(c.env.map((e) => [e.name, e.value]));
      expect(env, d.metadata.name).toMatchObject({
        KAFKA_SSL_CA_FILE: '/etc/cdr-pipeline/kafka-ca/ca.crt',
        KAFKA_SSL_CERT_FILE: '/etc/cdr-pipeline/kafka-client/tls.crt',
        KAFKA_SSL_KEY_FILE: '/etc/cdr-pipeline/kafka-client/tls.key',
        KAFKA_OAUTH_TOKEN_FILE: '/var/run/secrets/kafka/token',
      });
      expect(env.KAFKA_SASL_PASSWORD_FILE).toBeUndefined();
      const mounted = (path: string) => c.volumeMounts.find((m) => path.startsWith(`${m.mountPath}/`));
      for (const [key, secret] of [
        ['KAFKA_SSL_CA_FILE', 'kafka-ca'],
        ['KAFKA_SSL_CERT_FILE', 'kafka-client-cert'],
        ['KAFKA_SSL_KEY_FILE', 'kafka-client-cert'],
      ] as const) {
        const mount = mounted(env[key] as string);
        const volume = pod.volumes.find((v) => v.name === mount?.name);
        expect(volume?.secret?.secretName, `${d.metadata.name} ${key}`).toBe(secret);
        expect(volume?.secret?.items.map((i) => i.key)).toContain((env[key] as string).split('/').at(-1));
      }
      // The Kafka settings as every command reads them: accepted (files are read at start in a pod).
      const kafkaEnv = { ...config.data, ...env };
      for (const key of Object.keys(kafkaEnv).filter((k) => k.startsWith('KAFKA_')))
        expect(Object.keys(kafkaEnvSchema.shape), key).toContain(key);
      expect(kafkaEnv.KAFKA_SSL).toBe('true');
      expect(kafkaEnv.KAFKA_SASL_MECHANISM).toBe('oauthbearer');
    }
    expect(() => render([...multi, '--set', 'kafka.sasl.mechanism=gssapi'])).toThrow(/mechanism/);
  });

  it('gives each service its own Kafka principal (kafka.roles), for least-privilege ACLs', () => {
    const docs = render([
      ...withRecordings,
      '--set',
      'kafka.ssl=true',
      '--set',
      'kafka.sasl.mechanism=scram-sha-512',
      '--set',
      'kafka.sasl.username=shared',
      '--set',
      'kafka.roles.producer.username=cdr-producer',
      '--set',
      'kafka.roles.producer.passwordKey=producer-kafka-password',
      '--set',
      'kafka.roles.enricher.username=cdr-enricher',
      '--set',
      'kafka.roles.recordings.clientSecret=recordings-cert',
    ]);
    const pods = docs
      .filter((d) => d.kind === 'Deployment')
      .map((d) => {
        const spec = (d.spec as { template: { spec: PodSpec } }).template.spec;
        const c = spec.containers[0] as PodSpec['containers'][number];
        return { name: d.metadata.name, env: Object.fromEntries(c.env.map((e) => [e.name, e.value])), spec };
      });
    const of = (role: string) => pods.filter((p) => p.name.includes(`-${role}`));
    for (const p of of('producer')) {
      expect(p.env.KAFKA_SASL_USERNAME).toBe('cdr-producer');
      expect(p.env.KAFKA_SASL_PASSWORD_FILE).toBe('/etc/cdr-pipeline/secrets/producer-kafka-password');
    }
    for (const p of of('enricher')) {
      expect(p.env.KAFKA_SASL_USERNAME).toBe('cdr-enricher');
      expect(p.env.KAFKA_SASL_PASSWORD_FILE).toBe('/etc/cdr-pipeline/secrets/kafka-sasl-password');
    }
    for (const p of of('recordings')) {
      // No role user: the ConfigMap's shared one; its own client certificate.
      expect(p.env.KAFKA_SASL_USERNAME).toBeUndefined();
      expect(p.env.KAFKA_SSL_CERT_FILE).toBe('/etc/cdr-pipeline/kafka-client/tls.crt');
      expect(p.spec.volumes.find((v) => v.name === 'kafka-client')?.secret?.secretName).toBe(
        'recordings-cert',
      );
    }
    expect(of('producer').length + of('enricher').length + of('recordings').length).toBe(pods.length);
    expect(() => render([...multi, '--set', 'kafka.roles.producer.passwordKey=../etc'])).toThrow(
      /passwordKey/,
    );
  });

  it('runs every container restricted, with probes and resources', () => {
    for (const d of render(multi).filter((x) => x.kind === 'Deployment')) {
      const pod = (
        d.spec as {
          template: { spec: Record<string, unknown> & { containers: Array<Record<string, unknown>> } };
        }
      ).template.spec;
      expect(pod.securityContext).toMatchObject({
        runAsNonRoot: true,
        seccompProfile: { type: 'RuntimeDefault' },
      });
      const c = pod.containers[0] as Record<string, unknown>;
      expect(c.securityContext).toEqual({
        allowPrivilegeEscalation: false,
        readOnlyRootFilesystem: true,
        runAsNonRoot: true,
        capabilities: { drop: ['ALL'] },
      });
      expect(c.livenessProbe).toMatchObject({ httpGet: { path: '/healthz' } });
      expect(c.readinessProbe).toMatchObject({ httpGet: { path: '/readyz' } });
      expect(c.resources).toMatchObject({
        requests: { memory: expect.any(String) },
        limits: { memory: expect.any(String) },
      });
    }
  });

  it('has PodDisruptionBudgets, a metrics Service and an optional ServiceMonitor', () => {
    const plain = render();
    expect(plain.filter((d) => d.kind === 'PodDisruptionBudget')).toHaveLength(2);
    expect(plain.find((d) => d.kind === 'Service')?.metadata.name).toBe('rel-cdr-pipeline-metrics');
    expect(plain.find((d) => d.kind === 'ServiceMonitor')).toBeUndefined();
    expect(render(multi).find((d) => d.kind === 'ServiceMonitor')).toBeDefined();
  });

  it('passes the routing table and topics through the ConfigMap', () => {
    const cm = render(multi).find((d) => d.kind === 'ConfigMap') as Doc & { data: Record<string, string> };
    expect(JSON.parse(cm.data['routes.json'] as string)).toEqual({ premium: 'billing.premium' });
    expect(cm.data).toMatchObject({
      TOPIC_RAW: 'cdr.raw',
      TOPIC_RAW_PARTITIONS: '4',
      KAFKA_SASL_MECHANISM: 'scram-sha-512',
    });
    const known = new Set(
      [producerEnvSchema, enricherEnvSchema, kafkaEnvSchema].flatMap((x) => Object.keys(x.shape)),
    );
    for (const key of Object.keys(cm.data).filter((k) => !k.endsWith('.json')))
      expect(known, key).toContain(key);
  });

  it('renders a feed column map the producer mounts and its config loader reads', () => {
    const map = {
      name: 'acme',
      columns: { id: 'Ref', date_time: 'Started At', cost: 'Amount' },
      decimalSeparator: ',',
    };
    const docs = render(['--set-json', `feed.columns=${JSON.stringify(map)}`, '--set', 'feed.delimiter=|']);
    const cm = docs.find((d) => d.kind === 'ConfigMap') as Doc & { data: Record<string, string> };
    expect(cm.data).toMatchObject({
      FEED_COLUMNS_FILE: '/etc/cdr-pipeline/config/columns.json',
      FEED_DELIMITER: '|',
    });
    const dir = mkdtempSync(join(tmpdir(), 'chart-'));
    writeFileSync(join(dir, 'columns.json'), cm.data['columns.json'] as string);
    const env = Object.fromEntries(Object.entries(cm.data).filter(([k]) => /^[A-Z_]+$/.test(k))) as Record<
      string,
      string
    >;
    const cfg = loadProducerOptions({
      ...env,
      FEED_COLUMNS_FILE: join(dir, 'columns.json'),
      FEED_LOGIN: 'x',
      FEED_PASSWORD: 'y',
    });
    expect(cfg.rows.layouts[0]).toMatchObject({ name: 'acme', decimalSeparator: ',' });
    const producer = docs.find(
      (d) => d.kind === 'Deployment' && d.metadata.name.includes('-producer-'),
    ) as Doc;
    const pod = (producer.spec as { template: { spec: Record<string, unknown> } }).template.spec as {
      containers: Array<{ volumeMounts: Array<{ name: string; mountPath: string }> }>;
      volumes: Array<{ name: string; configMap?: { items: Array<{ key: string }> } }>;
    };
    expect(pod.containers[0]?.volumeMounts).toContainEqual(
      expect.objectContaining({ name: 'config', mountPath: '/etc/cdr-pipeline/config' }),
    );
    expect(pod.volumes.find((v) => v.name === 'config')?.configMap?.items).toEqual([
      { key: 'columns.json', path: 'columns.json' },
    ]);
  });

  it('renders the recordings stage against an existing bucket: its keys known, every account, secrets as files', () => {
    const values = [
      ...withRecordings,
      '--set',
      'egress.proxyUrl=http://egress-proxy:3128',
      '--set',
      'secrets.s3AccessKeyId=ci-s3-key-id',
      '--set',
      'secrets.s3SecretAccessKey=ci-s3-secret-value',
    ];
    const docs = render(values);
    const stage = docs.find((d) => d.kind === 'Deployment' && d.metadata.name.endsWith('-recordings')) as Doc;
    const container = (
      stage.spec as {
        template: {
          spec: { containers: Array<{ args: string[]; env: Array<{ name: string; value?: string }> }> };
        };
      }
    ).template.spec.containers[0];
    expect(container?.args).toEqual(['recordings']);
    const env = Object.fromEntries((container?.env ?? []).map((e) => [e.name, e.value]));
    const cm = docs.find((d) => d.kind === 'ConfigMap' && d.metadata.name.endsWith('-config')) as Doc & {
      data: Record<string, string>;
    };
    const known = new Set([recordingsEnvSchema, kafkaEnvSchema].flatMap((x) => Object.keys(x.shape)));
    const { NODE_OPTIONS, ...stageEnv } = env;
    // The stage's own young generation (scripts/node-flags.ts), as the benchmark measures it.
    expect(NODE_OPTIONS).toBe(RECORDINGS_NODE_FLAGS.join(' '));
    for (const key of Object.keys(stageEnv)) expect(known, key).toContain(key);
    const config = loadRecordingsOptions({
      ...cm.data,
      ...stageEnv,
      FEED_ACCOUNTS_FILE: undefined,
      FEED_LOGIN: '40021',
      FEED_PASSWORD: 'x',
      S3_ACCESS_KEY_ID_FILE: undefined,
      S3_SECRET_ACCESS_KEY_FILE: undefined,
      KAFKA_SASL_PASSWORD_FILE: undefined,
      SCHEMA_REGISTRY_PASSWORD_FILE: undefined,
      KAFKA_SASL_PASSWORD: 'x',
      SCHEMA_REGISTRY_PASSWORD: 'x',
    });
    expect(config.store).toMatchObject({ bucket: 'billing-recordings', sse: 'AES256', createBucket: false });
    expect(config.egress).toMatchObject({
      httpProxy: 'http://egress-proxy:3128',
      httpsProxy: 'http://egress-proxy:3128',
    });
    expect(env.S3_SECRET_ACCESS_KEY_FILE).toBe('/etc/cdr-pipeline/secrets/s3-secret-access-key');
    const secret = docs.find((d) => d.kind === 'Secret') as Doc & { stringData: Record<string, string> };
    // The stage fetches for every account of every producer group.
    expect(
      (JSON.parse(secret.stringData['recordings-accounts.json'] as string) as Array<{ login: string }>).map(
        (a) => a.login,
      ),
    ).toEqual(['40021', '40022', '50001']);
    for (const d of docs.filter((x) => x.kind !== 'Secret'))
      for (const v of ['ci-s3-secret-value', 'ci-feed-secret-east-1'])
        expect(JSON.stringify(d), d.metadata.name).not.toContain(v);
    // Enabled without a bucket or a URL is refused at render time.
    expect(() => render(['--set', 'recordings.enabled=true'])).toThrow(/recordings\/s3\/bucket/);
  });

  describe('dashboard and alerts', () => {
    const docs = render(['--set', 'dashboards.enabled=true', '--set', 'alerts.enabled=true']);
    // Every metric the code registers (histograms also as _bucket, _sum and _count).
    const registered = (() => {
      const registry = new Registry();
      producerMetrics(registry);
      enricherMetrics(registry);
      recordingsMetrics(registry);
      return new Set(
        registry
          .getMetricsAsArray()
          .flatMap((m) =>
            String(m.type) === 'histogram'
              ? [m.name, `${m.name}_bucket`, `${m.name}_sum`, `${m.name}_count`]
              : [m.name],
          ),
      );
    })();
    const metricsIn = (expr: string) => expr.match(/\bcdr_[a-z_]+\b/g) ?? [];

    it('ships a Grafana dashboard whose every query names a metric the code registers', () => {
      const cm = docs.find((d) => d.kind === 'ConfigMap' && d.metadata.name.endsWith('-dashboard')) as Doc & {
        data: Record<string, string>;
        metadata: { labels: Record<string, string> };
      };
      expect(cm.metadata.labels.grafana_dashboard).toBe('1');
      const dashboard = JSON.parse(cm.data['cdr-pipeline.json'] as string) as {
        panels: Array<{ title: string; targets: Array<{ expr: string }> }>;
      };
      const exprs = dashboard.panels.flatMap((p) => p.targets.map((t) => t.expr));
      expect(exprs.length).toBeGreaterThanOrEqual(10);
      for (const expr of exprs) {
        expect(metricsIn(expr).length, expr).toBeGreaterThan(0);
        for (const m of metricsIn(expr)) expect(registered, `${m} in ${expr}`).toContain(m);
      }
      const titles = dashboard.panels.map((p) => p.title.toLowerCase()).join(' | ');
      for (const need of [
        'published',
        'enriched',
        'cursor age',
        'feed errors',
        'dead letters',
        'lag',
        'aborts',
        'duration',
        'recordings stored',
        'refused by the carrier',
      ])
        expect(titles).toContain(need);
    });

    it('ships alert rules that promtool accepts, on registered metrics only', () => {
      const rule = docs.find((d) => d.kind === 'PrometheusRule') as Doc & {
        spec: { groups: Array<{ rules: Array<{ alert: string; expr: string }> }> };
      };
      const rules = rule.spec.groups.flatMap((g) => g.rules);
      expect(rules.map((r) => r.alert)).toEqual(
        expect.arrayContaining([
          'CdrFeedNotPolled',
          'CdrFeedAuthFailing',
          'CdrDeadLetters',
          'CdrEnricherLag',
          'CdrTransactionsAborting',
          'CdrHangingTransaction',
          'CdrRecordingsAddressRefused',
          'CdrRecordingsLoginRefused',
          'CdrRecordingsDeadLetters',
        ]),
      );
      for (const r of rules)
        for (const m of metricsIn(r.expr)) expect(registered, `${m} in ${r.alert}`).toContain(m);
      const promtool = process.env.PROMTOOL_BIN ?? 'promtool';
      const file = join(mkdtempSync(join(tmpdir(), 'rules-')), 'rules.yaml');
      writeFileSync(file, stringify({ groups: rule.spec.groups }));
      const out = execFileSync(promtool, ['check', 'rules', file], { encoding: 'utf8' });
      expect(out).toContain(`SUCCESS: ${rules.length} rules found`);
    });
  });

  it('fails at render time on bad values (values.schema.json)', () => {
    // A missing helm would also throw: insist on helm's own schema complaint naming the value.
    expect(existsSync(HELM), `helm at ${HELM}`).toBe(true);
    for (const [bad, path] of [
      ['kafka.brokers=not-a-broker', "at '/kafka/brokers'"],
      ['topics.rawPartitions=0', "at '/topics/rawPartitions'"],
      ['producer.groups=null', "at '/producer': missing property 'groups'"],
      ['logLevel=loud', "at '/logLevel'"],
    ] as const) {
      let stderr = '';
      try {
        execFileSync(HELM, ['template', 'rel', CHART, '--set', bad], { stdio: 'pipe' });
      } catch (err) {
        stderr = String((err as { stderr?: Buffer }).stderr ?? '');
      }
      expect(stderr, bad).toContain(path);
    }
  });
});

describe('Dockerfile', () => {
  it('runs the service with the Node flags and the malloc settings the benchmark measures', async () => {
    const { SERVICE_ENV, SERVICE_NODE_FLAGS } = await import('../../scripts/node-flags.ts');
    const env = readFileSync(`${ROOT}Dockerfile`, 'utf8')
      .split('\n')
      .map((l) => /^\s*(?:ENV\s+)?([A-Z_]+)=(\S+?)\s*\\?$/.exec(l))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => [m[1], m[2]]);
    const set = Object.fromEntries(env);
    expect(set.NODE_OPTIONS).toBe(SERVICE_NODE_FLAGS.join(' '));
    for (const [k, v] of Object.entries(SERVICE_ENV)) expect(set[k], k).toBe(v);
  });
});
