// The pipeline under faults: the producer and the enrichers as separate `cdr-pipeline` processes,
// configured with environment variables as a user would, each with its own topics for the run,
// their JSON log lines in files under the run's folder and counted by level, watched through their
// metrics.
import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { ROOT } from '../../scripts/stack/paths.ts';

/** pino's level numbers, for logs written with level labels. */
const LEVELS: Record<string, number> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60 };

export interface PipelineOptions {
  brokers: string;
  registryUrl: string;
  feedUrl: string;
  /** FEED_ACCOUNTS_FILE of the producer. */
  accountsFile: string;
  /** Names the run's topics, groups and transactional ids. */
  runId: string;
  /** Where the processes' logs go. */
  dir: string;
  enrichers: number;
  /** More environment for every process (a test's shorter timeouts, say). */
  env?: Record<string, string>;
  /** The checkout whose `src/cli.ts` runs (another version, to compare): this one by default. */
  root?: string;
}

export interface RunTopics {
  raw: string;
  dlq: string;
  cursor: string;
  control: string;
  totals: string;
  enrichedPrefix: string;
  /** The enrichers' consumer group. */
  enrichGroup: string;
}

/** One `cdr-pipeline` process and what it logged at error level or above. */
export class ServiceProcess {
  readonly name: string;
  readonly child: ChildProcess;
  readonly port: Promise<number>;
  readonly exit: Promise<number | null>;
  readonly errorLines: string[] = [];
  readonly warnCount = { value: 0 };
  private readonly log: WriteStream;

  constructor(
    name: string,
    command: 'produce' | 'enrich',
    env: Record<string, string>,
    dir: string,
    root = ROOT,
  ) {
    this.name = name;
    this.log = createWriteStream(`${dir}/${name}.log`, { flags: 'a' });
    this.child = spawn(process.execPath, [`${root}/src/cli.ts`, command], {
      cwd: root,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const started = command === 'produce' ? 'producer started' : 'enricher started';
    this.port = new Promise<number>((resolve, reject) => {
      createInterface({ input: this.child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
        this.log.write(`${line}\n`);
        let entry: { level?: number | string; msg?: string; port?: number };
        try {
          entry = JSON.parse(line) as typeof entry;
        } catch {
          return;
        }
        const level = typeof entry.level === 'number' ? entry.level : (LEVELS[entry.level ?? ''] ?? 0);
        if (level >= 50) this.errorLines.push(line);
        else if (level === 40) this.warnCount.value++;
        if (entry.msg === started && entry.port) resolve(entry.port);
      });
      this.child.on('exit', (code) => reject(new Error(`${name} exited with ${code} before it started`)));
    });
    this.port.catch(() => undefined);
    createInterface({ input: this.child.stderr as NodeJS.ReadableStream }).on('line', (line) => {
      this.log.write(`${line}\n`);
    });
    this.exit = new Promise((resolve) =>
      this.child.on('exit', (code) => {
        this.log.end();
        resolve(code);
      }),
    );
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Every sample of the process's /metrics, `name{labels}` -> value. */
  async metrics(): Promise<Map<string, number>> {
    const res = await fetch(`http://127.0.0.1:${await this.port}/metrics`, {
      signal: AbortSignal.timeout(5000),
    });
    const out = new Map<string, number>();
    for (const line of (await res.text()).split('\n')) {
      if (line === '' || line.startsWith('#')) continue;
      const at = line.lastIndexOf(' ');
      out.set(line.slice(0, at), Number(line.slice(at + 1)));
    }
    return out;
  }

  /** SIGTERM, then the exit code (null when it had to be killed after `graceMs`). */
  async stop(graceMs = 30_000): Promise<number | null> {
    if (!this.running) return this.child.exitCode;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    const code = await this.exit;
    clearTimeout(timer);
    return this.child.signalCode === 'SIGKILL' ? null : code;
  }
}

export function runTopics(runId: string): RunTopics {
  return {
    raw: `${runId}.raw`,
    dlq: `${runId}.dlq`,
    cursor: `${runId}.cursor`,
    control: `${runId}.control`,
    totals: `${runId}.control.totals`,
    enrichedPrefix: `${runId}.enriched.`,
    enrichGroup: `${runId}-enrich`,
  };
}

export class Pipeline {
  readonly topics: RunTopics;
  readonly producer: ServiceProcess;
  readonly enrichers: ServiceProcess[];

  constructor(o: PipelineOptions) {
    mkdirSync(o.dir, { recursive: true });
    this.topics = runTopics(o.runId);
    const common = {
      KAFKA_BROKERS: o.brokers,
      SCHEMA_REGISTRY_URL: o.registryUrl,
      TOPIC_RAW: this.topics.raw,
      TOPIC_DLQ: this.topics.dlq,
      HTTP_HOST: '127.0.0.1',
      HTTP_PORT: '0',
      LOG_FORMAT: 'json',
      LOG_LEVEL: 'info',
    };
    this.producer = new ServiceProcess(
      'producer',
      'produce',
      {
        ...common,
        FEED_URL: o.feedUrl,
        FEED_ACCOUNTS_FILE: o.accountsFile,
        FEED_POLL_INTERVAL_MS: '1000',
        TOPIC_CURSOR: this.topics.cursor,
        TOPIC_CONTROL: this.topics.control,
        TOPIC_CONTROL_TOTALS: this.topics.totals,
        TRANSACTIONAL_ID_PREFIX: `${o.runId}-producer`,
        LOG_PROGRESS: 'false',
        ...o.env,
      },
      o.dir,
      o.root,
    );
    this.enrichers = [...Array(o.enrichers).keys()].map(
      (i) =>
        new ServiceProcess(
          `enricher-${i + 1}`,
          'enrich',
          {
            ...common,
            ENRICH_TOPIC_PREFIX: this.topics.enrichedPrefix,
            ENRICH_GROUP_ID: this.topics.enrichGroup,
            ENRICH_TRANSACTIONAL_ID_PREFIX: `${o.runId}-enrich`,
            ENRICH_TOPIC_PARTITIONS: '3',
            ...o.env,
          },
          o.dir,
          o.root,
        ),
    );
  }

  /** The transactional ids of the producer's slots (its pool). */
  producerSlotIds(poolSize = 4): string[] {
    return [...Array(poolSize).keys()].map(
      (i) => `${this.topics.raw.replace(/\.raw$/, '')}-producer-slot-${i}`,
    );
  }

  all(): ServiceProcess[] {
    return [this.producer, ...this.enrichers];
  }

  async started(): Promise<void> {
    await Promise.all(this.all().map((p) => p.port));
  }

  /** When each account last committed (seconds since the epoch), from the producer's metrics. */
  async commitTimes(): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    for (const [k, v] of await this.producer.metrics()) {
      const m = /^cdr_cursor_committed_timestamp_seconds\{account="([^"]+)"\}$/.exec(k);
      if (m) out.set(m[1] as string, v);
    }
    return out;
  }

  async cursors(): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    for (const [k, v] of await this.producer.metrics()) {
      const m = /^cdr_cursor_id\{account="([^"]+)"\}$/.exec(k);
      if (m) out.set(m[1] as string, v);
    }
    return out;
  }

  /** Records the enrichers have committed, all of them together. */
  async enrichedIn(): Promise<number> {
    let n = 0;
    for (const e of this.enrichers) {
      if (!e.running) continue;
      n += (await e.metrics().catch(() => new Map<string, number>())).get('cdr_enrich_records_in_total') ?? 0;
    }
    return n;
  }

  /** SIGTERM to every process; their exit codes. */
  async stop(): Promise<Map<string, number | null>> {
    const codes = await Promise.all(this.all().map(async (p) => [p.name, await p.stop()] as const));
    return new Map(codes);
  }

  errorLines(): string[] {
    return this.all().flatMap((p) => p.errorLines.map((l) => `${p.name}: ${l}`));
  }
}
