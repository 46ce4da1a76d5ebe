// The root pino logger. Redaction paths are fixed here, never taken from input (pino's own advice):
// every place a secret could sit in a logged object is listed, and the feed URL is never logged
// whole (feed/request.ts gives the loggable form: host and fromid only).
//
// JSON lines wherever a machine reads them (Kubernetes, files, CI); readable lines (pino-pretty,
// in process and synchronous) on a terminal or when asked for (format `pretty`). Redaction happens before
// formatting, so the pretty form is as safe as the JSON one.

import { type DestinationStream, type Logger, pino } from 'pino';
import { PinoPretty } from 'pino-pretty';

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

export type LogFormat = 'json' | 'pretty';

export interface LoggerOptions {
  level?: string;
  /** `pretty` for readable lines; `json` (the default) for JSON lines. */
  format?: LogFormat;
  /** Where lines go; stdout when absent. Tests pass a stream to read lines back. */
  destination?: DestinationStream;
}

/** The format as configured, else pretty on a terminal and JSON everywhere else. */
export function logFormat(setting: string | undefined, isTerminal: boolean): LogFormat {
  if (setting === 'json' || setting === 'pretty') return setting;
  return isTerminal ? 'pretty' : 'json';
}

/** Options for pino-pretty shared by the service logs and the ./dev start console. */
export const PRETTY_OPTIONS = {
  translateTime: 'SYS:HH:MM:ss.l',
  ignore: 'pid,hostname',
  singleLine: true,
} as const;

export function createLogger(options: LoggerOptions = {}): Logger {
  const destination = options.destination ?? pino.destination({ dest: 1, sync: false });
  return pino(
    {
      level: options.level ?? 'info',
      base: { pid: process.pid },
      redact: { paths: [...REDACT_PATHS], censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    options.format === 'pretty'
      ? PinoPretty({
          ...PRETTY_OPTIONS,
          destination,
          sync: true,
          colorize: options.destination === undefined && process.stdout.isTTY === true,
        })
      : destination,
  );
}

export type { Logger };

/** The logger of a command run by a person: on stderr (stdout is its output), warn unless told. */
export function toolLogger(options: { level: string; format: LogFormat | undefined }): Logger {
  return createLogger({
    level: options.level,
    format: logFormat(options.format, process.stderr.isTTY === true),
    destination: pino.destination({ dest: 2, sync: true }),
  });
}
