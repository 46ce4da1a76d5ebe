// Configuration of `cdr-pipeline simulate`, the feed simulator.
import { z } from 'zod';
import { isValidTimeZone } from '../cdr/time-zone.ts';
import { bool, type Env, int, json, parseEnv, share } from './env.ts';

const account = z.object({
  login: z.string().min(1),
  password: z.string().min(1),
  firstId: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER),
});

const faultRule = z.discriminatedUnion('kind', [
  z.object({
    kind: z.literal('status'),
    status: z.number().int().min(400).max(599),
    retryAfterSeconds: z.number().int().min(0).optional(),
    count: z.number().int().min(1).optional(),
  }),
  z.object({ kind: z.literal('html'), count: z.number().int().min(1).optional() }),
  z.object({
    kind: z.literal('truncate'),
    afterRows: z.number().int().min(0),
    count: z.number().int().min(1).optional(),
  }),
  z.object({
    kind: z.literal('cut'),
    afterRows: z.number().int().min(0),
    inside: z.enum(['field', 'quoted']),
    count: z.number().int().min(1).optional(),
  }),
  z.object({
    kind: z.literal('stall'),
    afterRows: z.number().int().min(0),
    stallMs: z.number().int().min(1),
    count: z.number().int().min(1).optional(),
  }),
]);

const recordingFault = z.discriminatedUnion('kind', [
  z.object({
    kind: z.literal('status'),
    status: z.number().int().min(400).max(599),
    retryAfterSeconds: z.number().int().min(0).optional(),
    count: z.number().int().min(1).optional(),
  }),
  z.object({ kind: z.literal('html'), count: z.number().int().min(1).optional() }),
  z.object({ kind: z.literal('empty'), count: z.number().int().min(1).optional() }),
  z.object({ kind: z.literal('short'), count: z.number().int().min(1).optional() }),
  z.object({
    kind: z.literal('stall'),
    stallMs: z.number().int().min(1),
    count: z.number().int().min(1).optional(),
  }),
  z.object({
    kind: z.literal('late'),
    times: z.number().int().min(1),
    count: z.number().int().min(1).optional(),
  }),
]);

export const DEFAULT_SIM_ACCOUNTS = [
  { login: '40021', password: 'sim-secret-40021', firstId: 1000 },
  // Ids past 2^32, to prove that nothing truncates them.
  { login: '40022', password: 'sim-secret-40022', firstId: 5_000_000_000_000 },
];

export const simulatorEnvSchema = z.object({
  SIM_HOST: z.string().default('127.0.0.1').describe('Address the simulator listens on'),
  SIM_PORT: int(0, 65535).default(18080).describe('Port of the simulator (0: any free port)'),
  SIM_SEED: int(0, 2 ** 31)
    .default(1)
    .describe('Seed of the generated data; same seed, same rows'),
  SIM_TIMEZONE: z
    .string()
    .refine(isValidTimeZone, 'is not an IANA time zone')
    .default('Australia/Sydney')
    .describe('Zone of the start_time values written without an offset'),
  SIM_HISTORY_ROWS: int(0).default(10_000).describe('Rows of history per account when the simulator starts'),
  SIM_HISTORY_SPACING_MS: int(1).default(30_000).describe('Time between two history rows'),
  SIM_GROWTH_PER_SEC: z.coerce.number().min(0).default(20).describe('New rows per second per account'),
  SIM_UNKNOWN_SHARE: share().default(0.02).describe('Share of rows with a call type outside the contract'),
  SIM_MALFORMED_SHARE: share().default(0.001).describe('Share of rows that break the contract'),
  SIM_LATE_SHARE: share()
    .default(0)
    .describe(
      'Share of late CDRs: started 35 days before their place in the feed (an earlier billing period)',
    ),
  SIM_EPOCH_MS: int(0)
    .optional()
    .describe('Instant where history ends and growth starts (default: start time)'),
  SIM_ACCOUNTS: json(z.array(account).min(1))
    .default(DEFAULT_SIM_ACCOUNTS)
    .describe('JSON list of {login, password, firstId}'),
  SIM_BOM: bool().default(false).describe('Start each body with a UTF-8 byte order mark'),
  SIM_CRLF: bool().default(false).describe('End lines with CRLF instead of LF'),
  SIM_LATENCY_MS: int(0).default(0).describe('Delay before every response'),
  SIM_FAULTS: json(z.array(faultRule))
    .default([])
    .describe('JSON list of fault rules (status, html, truncate, stall, cut), see src/simulator/faults.ts'),
  SIM_LAYOUT: z
    .enum(['contract', 'legacy17'])
    .default('contract')
    .describe("Columns served: the contract's, or the carrier's 17-column layout"),
  SIM_DELIMITER: z
    .enum([',', ';', '|', '\t', 'tab'])
    .default(',')
    .transform((d) => (d === 'tab' ? '\t' : d))
    .describe('Field delimiter: , ; | or tab'),
  SIM_WINDOW_IDS: int(1)
    .optional()
    .describe(
      'Windowed responses: only ids below fromid + this; an empty window with more rows further on is answered with a pointer row',
    ),
  SIM_ID_GAPS: json(z.array(z.object({ afterRow: z.number().int().min(0), ids: z.number().int().min(1) })))
    .default([])
    .describe('JSON list of gaps in every account id sequence: {afterRow, ids} skips ids after that row'),
  SIM_POISON_ROWS: json(
    z.array(
      z.object({
        index: z.number().int().min(0),
        kind: z.enum(['oversize', 'unclosed-quote']),
        bytes: z.number().int().min(1).optional(),
      }),
    ),
  )
    .default([])
    .describe('JSON list of rows always sent broken: {index, kind: oversize|unclosed-quote, bytes?}'),
  SIM_RECORDING_BYTES: int(417, 1024 * 1024 * 1024)
    .default(16 * 1024)
    .describe('Size of every call recording served (whole MP3 frames of 417 bytes)'),
  SIM_RECORDING_ALLOW: z
    .string()
    .optional()
    .describe('Comma-separated client addresses served recordings; any other gets 403 (unset: all)'),
  SIM_RECORDING_FAULTS: json(z.array(recordingFault))
    .default([])
    .describe(
      'JSON list of recording fault rules (status, html, empty, short, stall, late), see src/simulator/recordings.ts',
    ),
});

export type SimulatorEnv = z.infer<typeof simulatorEnvSchema>;

export function loadSimulatorConfig(env: Env): Readonly<SimulatorEnv> {
  return parseEnv(simulatorEnvSchema, env);
}
