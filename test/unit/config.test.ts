import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { CONFIGURATION_DOC, configurationDoc } from '../../scripts/config-docs.ts';
import { enricherEnvSchema, loadEnricherOptions } from '../../src/config/enricher.ts';
import { describeSchema } from '../../src/config/env.ts';
import { kafkaEnvSchema } from '../../src/config/kafka.ts';
import { loadProducerOptions, producerEnvSchema } from '../../src/config/producer.ts';
import { recordingsEnvSchema, recordingsToolEnvSchema } from '../../src/config/recordings.ts';
import { loadSimulatorConfig, simulatorEnvSchema } from '../../src/config/simulator.ts';
import type { CdrError } from '../../src/errors.ts';
import { createLogger } from '../../src/ops/logger.ts';

const BASE = {
  FEED_URL: 'https://feed.example',
  FEED_LOGIN: '40021',
  FEED_PASSWORD: 'hunter2-secret',
  KAFKA_BROKERS: 'k1:9092,k2:9092',
  SCHEMA_REGISTRY_URL: 'http://registry:8080/apis/ccompat/v7',
};

function configError(env: Record<string, string>): CdrError {
  try {
    loadProducerOptions(env);
  } catch (err) {
    return err as CdrError;
  }
  throw new Error('expected a configuration error');
}

describe('producer config: layouts', () => {
  const file = (name: string, text: string) => {
    const path = join(mkdtempSync(join(tmpdir(), 'cfg-')), name);
    writeFileSync(path, text);
    return path;
  };

  it('puts a FEED_COLUMNS_FILE map (YAML or JSON) before the built-in layouts, with its forms', () => {
    const yaml = file(
      'm.yaml',
      'name: acme\ncolumns:\n  id: Ref\n  date: Day\n  cost: Amount\nforms:\n  date: YYYY.MM.DD\n',
    );
    const cfg = loadProducerOptions({ ...BASE, FEED_COLUMNS_FILE: yaml, FEED_DELIMITER: 'tab' });
    expect(cfg.rows.layouts.map((l) => l.name)).toEqual(['acme', 'contract', 'legacy17']);
    expect(cfg.rows.layouts[0]).toMatchObject({
      forms: { date: 'YYYY.MM.DD', time: 'HH:MM:SS' },
      decimalSeparator: '.',
    });
    expect(cfg.rows.delimiter).toBe('\t');
    const json = file(
      'm.json',
      JSON.stringify({ columns: { id: 'Ref', start_time: 'When' }, decimalSeparator: ',' }),
    );
    expect(loadProducerOptions({ ...BASE, FEED_COLUMNS_FILE: json }).rows.layouts[0]).toMatchObject({
      name: 'configured',
      decimalSeparator: ',',
    });
  });

  it('changes the 17-column forms with FEED_DATE_FORMAT and friends', () => {
    const cfg = loadProducerOptions({
      ...BASE,
      FEED_DATETIME_FORMAT: 'MM/DD/YYYY HH:MM:SS',
      FEED_DATE_FORMAT: 'MM/DD/YYYY',
    });
    expect(cfg.rows.layouts.find((l) => l.name === 'legacy17')?.forms).toEqual({
      date: 'MM/DD/YYYY',
      time: 'HH:MM:SS',
      dateTime: 'MM/DD/YYYY HH:MM:SS',
    });
  });

  it('fails at start naming the key for a bad map, form, delimiter or currency', () => {
    expect(configError({ ...BASE, FEED_COLUMNS_FILE: '/nonexistent/map.yaml' }).message).toMatch(
      /^invalid configuration: FEED_COLUMNS_FILE: cannot be read/,
    );
    expect(
      configError({ ...BASE, FEED_COLUMNS_FILE: file('a.json', '{"columns":{"from":"A"}}') }).message,
    ).toContain('FEED_COLUMNS_FILE: columns: must name the id column');
    expect(
      configError({ ...BASE, FEED_COLUMNS_FILE: file('b.json', '{"columns":{"id":"A"}}') }).message,
    ).toContain('FEED_COLUMNS_FILE: columns: must name a call start column');
    expect(
      configError({
        ...BASE,
        FEED_COLUMNS_FILE: file('c.json', '{"columns":{"id":"A","date":"D"},"forms":{"date":"tomorrow"}}'),
      }).message,
    ).toContain('forms.date');
    expect(configError({ ...BASE, FEED_DATE_FORMAT: 'D/M/Y' }).message).toContain('FEED_DATE_FORMAT');
    expect(configError({ ...BASE, FEED_DELIMITER: ':' }).message).toContain('FEED_DELIMITER');
    expect(configError({ ...BASE, FEED_CURRENCY: 'dollars' }).message).toContain('FEED_CURRENCY');
  });
});

describe('producer config', () => {
  it("reads the carrier's private CA beside the system's, and refuses a client certificate without its key or a file that is no PEM", () => {
    const dir = mkdtempSync(join(tmpdir(), 'cdr-tls-'));
    const pem = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
    writeFileSync(join(dir, 'ca.pem'), pem);
    writeFileSync(join(dir, 'not.pem'), 'hello');
    const tls = loadProducerOptions({ ...BASE, FEED_CA_FILE: join(dir, 'ca.pem') }).feed.egress.tls;
    expect(tls?.ca?.at(-1)).toBe(pem);
    expect(tls?.ca?.length).toBeGreaterThan(1);
    expect(loadProducerOptions(BASE).feed.egress.tls).toBeUndefined();
    expect(() => loadProducerOptions({ ...BASE, FEED_CLIENT_CERT_FILE: join(dir, 'ca.pem') })).toThrow(
      /FEED_CLIENT_KEY_FILE/,
    );
    expect(() => loadProducerOptions({ ...BASE, FEED_CA_FILE: join(dir, 'not.pem') })).toThrow(
      /FEED_CA_FILE: is not a PEM file/,
    );
    expect(() => loadProducerOptions({ ...BASE, FEED_CA_FILE: join(dir, 'missing.pem') })).toThrow(
      /FEED_CA_FILE: cannot be read \(ENOENT\)/,
    );
  });

  it('reads a valid environment into a frozen config with defaults', () => {
    const cfg = loadProducerOptions(BASE);
    expect(cfg.accounts).toEqual([{ login: '40021', password: 'hunter2-secret' }]);
    expect(cfg.kafka.brokers).toEqual(['k1:9092', 'k2:9092']);
    expect(cfg.topics.raw).toBe('cdr.raw');
    expect(cfg.batch.maxRows).toBe(5000);
    expect(Object.isFrozen(cfg) && Object.isFrozen(cfg.batch) && Object.isFrozen(cfg.rows.layouts)).toBe(
      true,
    );
  });

  it.each([
    [{ FEED_URL: undefined }, 'FEED_URL'],
    [{ FEED_URL: 'not a url' }, 'FEED_URL'],
    [{ KAFKA_BROKERS: 'k1' }, 'KAFKA_BROKERS'],
    [{ FEED_POLL_INTERVAL_MS: 'soon' }, 'FEED_POLL_INTERVAL_MS'],
    [{ FEED_TIMEZONE: 'Mars/Olympus' }, 'FEED_TIMEZONE'],
    [{ FEED_LOGIN: undefined }, 'FEED_LOGIN'],
    [{ FEED_PASSWORD: undefined }, 'FEED_PASSWORD'],
    [{ FEED_PASSWORD_FILE: '/nonexistent/pw' }, 'FEED_PASSWORD'],
    [{ KAFKA_SASL_MECHANISM: 'plain' }, 'KAFKA_SASL_USERNAME'],
    [{ FEED_BACKOFF_MIN_MS: '5000', FEED_BACKOFF_MAX_MS: '10' }, 'FEED_BACKOFF_MAX_MS'],
  ])('fails at start naming the key: %j', (change, key) => {
    const env: Record<string, string> = { ...BASE };
    for (const [k, v] of Object.entries(change)) {
      if (v === undefined) delete env[k];
      else env[k] = v;
    }
    const err = configError(env);
    expect(err.code).toBe('CDR_CONFIG_INVALID');
    expect(err.message).toContain(key);
    expect(err.message).not.toContain('hunter2-secret');
  });

  it('says plainly when a required variable is not set', () => {
    const { FEED_URL: _unset, ...env } = BASE;
    expect(configError(env).message).toBe('invalid configuration: FEED_URL: is required and not set');
  });

  it('reads passwords from files and several accounts from FEED_ACCOUNTS_FILE', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cdr-config-'));
    writeFileSync(join(dir, 'pw'), 'from-a-file\n');
    writeFileSync(
      join(dir, 'accounts.json'),
      JSON.stringify([
        { login: 'a', password: 'pa' },
        { login: 'b', passwordFile: join(dir, 'pw') },
      ]),
    );
    const { FEED_LOGIN: _l, FEED_PASSWORD: _p, ...rest } = BASE;
    const cfg = loadProducerOptions({ ...rest, FEED_ACCOUNTS_FILE: join(dir, 'accounts.json') });
    expect(cfg.accounts).toEqual([
      { login: 'a', password: 'pa' },
      { login: 'b', password: 'from-a-file' },
    ]);
    writeFileSync(
      join(dir, 'dup.json'),
      JSON.stringify([
        { login: 'a', password: 'x' },
        { login: 'a', password: 'y' },
      ]),
    );
    expect(configError({ ...rest, FEED_ACCOUNTS_FILE: join(dir, 'dup.json') }).message).toContain(
      'listed twice',
    );
    expect(configError({ ...BASE, FEED_PASSWORD_FILE: join(dir, 'pw') }).message).toContain('not both');
  });

  it('validates the simulator config too', () => {
    expect(loadSimulatorConfig({}).SIM_PORT).toBe(18080);
    expect(() => loadSimulatorConfig({ SIM_FAULTS: '[{"kind":"status","status":200}]' })).toThrow(
      /SIM_FAULTS/,
    );
  });

  it('is documented: docs/configuration.md is what the schemas say, every variable with a description', () => {
    for (const schema of [
      producerEnvSchema,
      enricherEnvSchema,
      recordingsEnvSchema,
      recordingsToolEnvSchema,
      kafkaEnvSchema,
      simulatorEnvSchema,
    ])
      for (const [key, description] of describeSchema(schema)) expect(description, key).not.toBe('');
    // Generated by scripts/config-docs.ts: run it after changing a schema.
    expect(readFileSync(CONFIGURATION_DOC, 'utf8')).toBe(configurationDoc());
  });
});

describe('enricher config', () => {
  it('routes every category and unknown to <prefix><category>, overridable by a file', () => {
    const base = { KAFKA_BROKERS: 'k:9092', SCHEMA_REGISTRY_URL: 'http://r:8080/apis/ccompat/v7' };
    const cfg = loadEnricherOptions(base);
    expect(cfg.routes.mobile).toBe('cdr.enriched.mobile');
    expect(cfg.routes.unknown).toBe('cdr.enriched.unknown');
    expect(Object.keys(cfg.routes)).toHaveLength(13);
    const dir = mkdtempSync(join(tmpdir(), 'cdr-routes-'));
    writeFileSync(
      join(dir, 'routes.json'),
      JSON.stringify({ mobile: 'billing.mobile', premium: 'billing.premium' }),
    );
    const custom = loadEnricherOptions({ ...base, ENRICH_ROUTES_FILE: join(dir, 'routes.json') });
    expect(custom.routes.mobile).toBe('billing.mobile');
    expect(custom.routes.local).toBe('cdr.enriched.local');
    writeFileSync(join(dir, 'bad.json'), JSON.stringify({ satellite: 'x' }));
    expect(() => loadEnricherOptions({ ...base, ENRICH_ROUTES_FILE: join(dir, 'bad.json') })).toThrow(
      /ENRICH_ROUTES_FILE.*satellite/,
    );
  });
});

describe('logger', () => {
  it('redacts secrets wherever the fixed paths put them', () => {
    const lines: string[] = [];
    const destination = new Writable({
      write(chunk, _e, cb) {
        lines.push(chunk.toString());
        cb();
      },
    });
    const logger = createLogger({ destination });
    logger.info(
      {
        password: 'p1',
        account: { password: 'p2' },
        url: 'https://x/?password=p3',
        sasl: { password: 'p4' },
      },
      'm',
    );
    const out = lines.join('');
    for (const secret of ['p1', 'p2', 'p3', 'p4']) expect(out).not.toContain(secret);
    expect(out).toContain('[redacted]');
  });
});
