// The feed simulator's HTTP server: `GET /billing/feed?login&password&fromid` as the feed contract
// describes it, plus `/healthz`. Rows are generated and written as the socket drains, so a response
// of millions of rows costs no more memory than one of ten.

import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { CsvWriter, legacy17Extras, type SimLayout } from './csv-writer.ts';
import { drained } from './drained.ts';
import { type FaultPlan, type FaultRule, type PoisonRow, takeFault } from './faults.ts';
import { CdrGenerator, type GeneratorOptions, type SimAccountData } from './generator.ts';
import { RecordingServer, type SimRecordingOptions } from './recordings.ts';

export interface SimAccount {
  login: string;
  password: string;
  firstId: number;
}

export interface SimulatorOptions extends GeneratorOptions {
  host: string;
  port: number;
  accounts: SimAccount[];
  /** Start the body with a UTF-8 byte order mark. */
  bom: boolean;
  eol: '\n' | '\r\n';
  faults: FaultPlan;
  /** Rows sent broken in every response that holds them. */
  poisonRows?: PoisonRow[];
  /** The columns: the contract's, or the carrier's 17-column layout. */
  layout?: SimLayout;
  delimiter?: string;
  /**
   * Windowed responses: only ids below `fromid + windowIds`. When that window holds no row after
   * the asked id but rows exist further on, the response is one pointer row naming the next id.
   */
  windowIds?: number;
  /** The call recordings of the CDRs whose 17-column row names one (`GET /recordings/<path>`). */
  recordings?: SimRecordingOptions;
}

/** One answered feed request, for tests that check how the client paced itself. */
export interface RequestRecord {
  at: number;
  login: string;
  fromid: string;
  rows: number;
  pointer?: number;
  /** The client's address (a proxy's egress address when the request came through one). */
  remote?: string;
}

export interface RunningSimulator {
  server: Server;
  url: string;
  port: number;
  generator: CdrGenerator;
  /** Requests served to `/billing/feed`, by outcome; `log` keeps the last 10,000 requests. */
  stats: { requests: number; rowsSent: number; log: RequestRecord[] };
  /** The recordings served (requests, bytes) and the fault plan, which tests change while it runs. */
  recordings: RecordingServer;
  close(): Promise<void>;
}

const CHUNK_CHARS = 64 * 1024;
const HTML_PAGE =
  '<!DOCTYPE html>\n<html><head><title>Sign in</title></head><body><form action="/login">' +
  '<input name="login"><input name="password" type="password"></form></body></html>\n';

export async function startSimulator(options: SimulatorOptions, logger: Logger): Promise<RunningSimulator> {
  const feed = new FeedSimulator(options, logger);
  const server = createServer((req, res) => {
    feed.handle(req, res).catch((err: unknown) => {
      logger.error({ err }, 'simulator request failed');
      res.destroy();
    });
  });
  server.listen(options.port, options.host);
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  logger.info({ host: options.host, port, accounts: options.accounts.length }, 'feed simulator listening');
  return {
    server,
    url: `http://${options.host}:${port}`,
    port,
    generator: feed.generator,
    stats: feed.stats,
    recordings: feed.recordings,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** The feed's answers: its checks in the contract's order, its faults, and the rows streamed as the socket drains. */
class FeedSimulator {
  readonly generator: CdrGenerator;
  readonly stats = { requests: 0, rowsSent: 0, log: [] as RequestRecord[] };
  readonly recordings: RecordingServer;
  private readonly options: SimulatorOptions;
  private readonly logger: Logger;
  private readonly accounts: Array<SimAccount & SimAccountData>;
  private readonly writer: CsvWriter;

  constructor(options: SimulatorOptions, logger: Logger) {
    this.options = options;
    this.logger = logger;
    this.generator = new CdrGenerator(options);
    this.accounts = options.accounts.map((a, index) => ({ ...a, index }));
    this.writer = new CsvWriter(options.layout ?? 'contract', options.delimiter ?? ',');
    this.recordings = new RecordingServer(
      options.recordings ?? { bytes: 16 * 1024, faults: { latencyMs: 0, rules: [] } },
    );
  }

  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://simulator');
    if (url.pathname === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
      return;
    }
    if (url.pathname.startsWith('/recordings/') && req.method === 'GET') {
      await this.recording(req, res, url);
      return;
    }
    if (url.pathname !== '/billing/feed' || req.method !== 'GET') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    this.stats.requests += 1;
    const login = url.searchParams.get('login') ?? '';
    const account = this.accounts.find(
      (a) => a.login === login && a.password === (url.searchParams.get('password') ?? ''),
    );
    const fromText = url.searchParams.get('fromid') ?? '';
    // Logged without the password: the simulator keeps the same rule as the product.
    this.logger.debug({ login, fromid: fromText, request: this.stats.requests }, 'feed request');
    if (this.options.faults.latencyMs > 0) await sleep(this.options.faults.latencyMs);
    if (!account) {
      res.writeHead(401, { 'content-type': 'text/plain' }).end('Invalid login or password\n');
      return;
    }
    if (!/^\d{1,16}$/.test(fromText) || !Number.isSafeInteger(Number(fromText))) {
      res.writeHead(400, { 'content-type': 'text/plain' }).end('fromid must be a whole number\n');
      return;
    }
    const fault = takeFault(this.options.faults);
    if (fault?.kind === 'status') {
      const headers: Record<string, string> = { 'content-type': 'text/plain' };
      if (fault.retryAfterSeconds !== undefined) headers['retry-after'] = String(fault.retryAfterSeconds);
      res.writeHead(fault.status, headers).end('Service temporarily unavailable\n');
      return;
    }
    if (fault?.kind === 'html') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(HTML_PAGE);
      return;
    }
    await this.streamRows(res, account, Number(fromText), fault, req.socket.remoteAddress);
  }

  /** `GET /recordings/<path>`: the account's login first, then a CDR of that account that names this path. */
  private async recording(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const account = this.accounts.find(
      (a) => a.login === url.searchParams.get('login') && a.password === url.searchParams.get('password'),
    );
    if (!account) {
      res.writeHead(401, { 'content-type': 'text/plain' }).end('Invalid login or password\n');
      return;
    }
    const path = decodeURIComponent(url.pathname.slice('/recordings/'.length));
    const id = /(\d{1,16})\.mp3$/.exec(path)?.[1];
    const { generator } = this;
    const n = id === undefined ? -1 : generator.indexAtOrAfter(account, Number(id));
    const known =
      id !== undefined &&
      n >= 0 &&
      n < generator.rowCountAt(Date.now()) &&
      generator.idOf(account, n) === Number(id) &&
      legacy17Extras(generator.row(account, n)).recording === path;
    if (!known) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('Not found\n');
      return;
    }
    await this.recordings.serve(req, res, id);
  }

  private async streamRows(
    res: ServerResponse,
    account: SimAccountData,
    fromId: number,
    fault: FaultRule | undefined,
    remote: string | undefined,
  ): Promise<void> {
    const { generator, writer, options } = this;
    // The rows that exist when the request arrives; growth after that shows in the next poll.
    const count = generator.rowCountAt(Date.now());
    const start = generator.indexAtOrAfter(account, fromId);
    const end = options.windowIds
      ? Math.min(count, generator.indexAtOrAfter(account, fromId + options.windowIds))
      : count;
    const record: RequestRecord = {
      at: Date.now(),
      login: account.login,
      fromid: String(fromId),
      rows: 0,
      ...(remote ? { remote } : {}),
    };
    if (this.stats.log.length >= 10_000) this.stats.log.shift();
    this.stats.log.push(record);
    res.writeHead(200, { 'content-type': 'text/csv; charset=utf-8' });
    const head = (options.bom ? '\ufeff' : '') + writer.header(options.eol);
    // No row after the asked id in the window, but more further on: one pointer row to the next.
    const after = generator.indexAtOrAfter(account, fromId + 1);
    if (options.windowIds && after >= end && after < count) {
      record.pointer = generator.idOf(account, after);
      res.end(head + writer.pointer(record.pointer, options.eol));
      return;
    }
    await this.rows(res, account, { start, end }, fault, record, head);
  }

  /** Rows `start` to `end` of the account, in chunks as the socket drains; a fault breaks them off. */
  private async rows(
    res: ServerResponse,
    account: SimAccountData,
    range: { start: number; end: number },
    fault: FaultRule | undefined,
    record: RequestRecord,
    head: string,
  ): Promise<void> {
    const { generator, writer, options } = this;
    let chunk = head;
    let sent = 0;
    const poison = new Map((options.poisonRows ?? []).map((p) => [p.index, p]));
    for (let n = range.start; n < range.end; n++) {
      if (res.destroyed) return;
      const row = generator.row(account, n);
      const poisoned = poison.get(n);
      const line = poisoned ? writer.poison(row, poisoned, options.eol) : writer.row(row, options.eol);
      if (fault?.kind === 'cut' && sent === fault.afterRows) {
        res.end(chunk + writer.cut(row, fault.inside));
        return;
      }
      if (fault?.kind === 'truncate' && sent === fault.afterRows) {
        res.write(chunk + line.slice(0, Math.max(1, Math.floor(line.length / 2))));
        // Let the partial row leave before the reset, so the client sees a body cut mid-row.
        await sleep(50);
        res.destroy();
        return;
      }
      if (fault?.kind === 'stall' && sent === fault.afterRows) {
        if (!res.write(chunk)) await drained(res);
        chunk = '';
        await sleep(fault.stallMs);
      }
      chunk += line;
      sent += 1;
      record.rows = sent;
      this.stats.rowsSent += 1;
      if (chunk.length >= CHUNK_CHARS) {
        if (!res.write(chunk)) await drained(res);
        chunk = '';
      }
    }
    res.end(chunk);
  }
}
