// The root pino logger. Redaction paths are fixed here, never taken from input (pino's own advice):
// every place a secret could sit in a logged object is listed, and the feed URL is never logged
// whole (feed/url.ts gives the loggable form: host and fromid only).
import { type DestinationStream, type Logger, pino } from 'pino';

export const REDACT_PATHS = [
  'password',
  '*.password',
  '*.*.password',
  'passwordFile',
  '*.passwordFile',
  'feedUrl',
  '*.feedUrl',
  'url',
  '*.url',
  'sasl',
  '*.sasl',
  'registryAuth',
  '*.registryAuth',
  'authorization',
  '*.authorization',
  'headers.authorization',
  '*.headers.authorization',
] as const;

export interface LoggerOptions {
  level?: string;
  /** Where JSON lines go; stdout when absent. Tests pass a stream to read lines back. */
  destination?: DestinationStream;
}

export function createLogger(options: LoggerOptions = {}): Logger {
  return pino(
    {
      level: options.level ?? 'info',
      base: { pid: process.pid },
      redact: { paths: [...REDACT_PATHS], censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    options.destination ?? pino.destination({ dest: 1, sync: false }),
  );
}

export type { Logger };
