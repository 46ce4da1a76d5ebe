// The carrier's call recordings, as the simulator serves them: `GET /recordings/<MP3 path>` with the
// account's login and password, for the CDRs whose 17-column row names a recording. The bytes are
// MPEG-1 Layer III frames, the same for the same id on every request, streamed as the socket
// drains (a 20 MB recording costs no memory). An allow-list of client addresses stands for the
// carrier's whitelisted static IP; fault rules stand for its bad days.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { drained } from './drained.ts';
import { type FaultPlan, takeFault } from './faults.ts';

export type RecordingFault =
  /** Answer this status (404, 429, 500, 503...), with an optional Retry-After in seconds. */
  | { kind: 'status'; status: number; retryAfterSeconds?: number; count?: number }
  /** 200 with an HTML page. */
  | { kind: 'html'; count?: number }
  /** 200 with an empty body. */
  | { kind: 'empty'; count?: number }
  /** A Content-Length larger than the body sent, then the connection closed. */
  | { kind: 'short'; count?: number }
  /** Half the body, then nothing for `stallMs`, then the rest. */
  | { kind: 'stall'; stallMs: number; count?: number }
  /** Every recording answers 404 its first `times` requests (not there yet), then 200. */
  | { kind: 'late'; times: number; count?: number };

export interface SimRecordingOptions {
  /** Bytes of every recording (rounded down to whole frames, at least one). */
  bytes: number;
  /** Client addresses served; any other gets 403 (empty or unset: everyone). */
  allow?: string[];
  faults: Omit<FaultPlan, 'rules'> & { rules: RecordingFault[] };
}

/** One answered recording request, for tests: which id, what status, from which address. */
export interface RecordingRequest {
  id: string;
  status: number;
  remote: string;
}

const FRAME_BYTES = 417; // MPEG-1 Layer III, 128 kbit/s, 44.1 kHz, no padding
const FRAME_HEADER = Buffer.from([0xff, 0xfb, 0x90, 0x00]);
const CHUNK_FRAMES = 157; // ~64 KB per write

/** The recording of CDR `id`: whole frames, a header each, a payload that depends on the id only. */
export function recordingBytes(id: string, bytes: number, fromFrame = 0, frames?: number): Buffer {
  const total = Math.max(1, Math.floor(bytes / FRAME_BYTES));
  const count = Math.max(0, Math.min(frames ?? total, total - fromFrame));
  const out = Buffer.allocUnsafe(count * FRAME_BYTES);
  const seed = Number(BigInt(id) % 2147483647n) + 1;
  for (let f = 0; f < count; f++) {
    const base = f * FRAME_BYTES;
    FRAME_HEADER.copy(out, base);
    // Each frame from the id and its own index alone: any slice of the body is the same bytes.
    let y = (seed ^ Math.imul(fromFrame + f + 1, 0x9e3779b1)) & 0x7fffffff;
    for (let i = 4; i < FRAME_BYTES; i++) {
      y = (Math.imul(y, 1103515245) + 12345) & 0x7fffffff;
      out[base + i] = y >>> 16;
    }
  }
  return out;
}

export function recordingLength(bytes: number): number {
  return Math.max(1, Math.floor(bytes / FRAME_BYTES)) * FRAME_BYTES;
}

export class RecordingServer {
  readonly log: RecordingRequest[] = [];
  served = 0;
  bytesServed = 0;
  /** Changed by tests while the server runs (faults, allow-list, size). */
  readonly options: SimRecordingOptions;
  private readonly asked = new Map<string, number>();

  constructor(options: SimRecordingOptions) {
    this.options = options;
  }

  /** Answers a request for the recording of CDR `id`, once the account and the path are known to be good. */
  async serve(req: IncomingMessage, res: ServerResponse, id: string): Promise<void> {
    const remote = (req.socket.remoteAddress ?? '').replace(/^::ffff:/, '');
    const note = (status: number) => {
      if (this.log.length >= 10_000) this.log.shift();
      this.log.push({ id, status, remote });
    };
    const allow = this.options.allow ?? [];
    if (allow.length > 0 && !allow.includes(remote)) {
      note(403);
      res.writeHead(403, { 'content-type': 'text/plain' }).end('Forbidden: address not whitelisted\n');
      return;
    }
    const fault = takeFault(this.options.faults);
    if (fault?.kind === 'late') {
      const n = (this.asked.get(id) ?? 0) + 1;
      this.asked.set(id, n);
      if (n <= fault.times) return this.plain(res, 404, 'Not found\n', note);
    }
    if (fault?.kind === 'status') {
      const headers: Record<string, string> = { 'content-type': 'text/plain' };
      if (fault.retryAfterSeconds !== undefined) headers['retry-after'] = String(fault.retryAfterSeconds);
      note(fault.status);
      res.writeHead(fault.status, headers).end('Unavailable\n');
      return;
    }
    if (fault?.kind === 'html')
      return this.plain(res, 200, '<!DOCTYPE html><html><body>Sign in</body></html>\n', note, 'text/html');
    if (fault?.kind === 'empty') return this.plain(res, 200, '', note, 'audio/mpeg');
    await this.body(res, id, fault, note);
  }

  private plain(
    res: ServerResponse,
    status: number,
    text: string,
    note: (s: number) => void,
    type = 'text/plain',
  ): void {
    note(status);
    res
      .writeHead(status, { 'content-type': type, 'content-length': String(Buffer.byteLength(text)) })
      .end(text);
  }

  private async body(
    res: ServerResponse,
    id: string,
    fault: RecordingFault | undefined,
    note: (s: number) => void,
  ): Promise<void> {
    const frames = Math.max(1, Math.floor(this.options.bytes / FRAME_BYTES));
    const length = frames * FRAME_BYTES;
    note(200);
    res.writeHead(200, {
      'content-type': 'audio/mpeg',
      'content-length': String(fault?.kind === 'short' ? length + 1000 : length),
    });
    const half = Math.floor(frames / 2);
    const stopAt = fault?.kind === 'short' ? half : frames;
    for (let f = 0; f < stopAt; ) {
      if (res.destroyed) return;
      // A stall comes at half the body, whatever the size of the writes.
      const stallHere = fault?.kind === 'stall' && f === half;
      if (stallHere) await sleep(fault.stallMs);
      const end = Math.min(f + CHUNK_FRAMES, stopAt, f < half && fault?.kind === 'stall' ? half : stopAt);
      const chunk = recordingBytes(id, this.options.bytes, f, end - f);
      this.bytesServed += chunk.length;
      f = end;
      if (!res.write(chunk)) await drained(res);
    }
    if (fault?.kind === 'short') {
      // The connection closes once what was written has left (end, not destroy, which would drop
      // it): the client sees a body shorter than its Content-Length.
      res.socket?.end();
      return;
    }
    this.served += 1;
    res.end();
  }
}
