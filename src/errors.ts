// The one error type of the project. Callers branch on `code` or `retriable`, never on message
// text. Messages never carry secrets: the feed URL with its query string, passwords and SASL
// credentials are kept out by the code that builds them (see feed/request.ts).

export const ErrorCodes = {
  /** A configuration value is missing or malformed; the message names the key. */
  CONFIG_INVALID: 'CDR_CONFIG_INVALID',
  /** The feed answered 401/403: wrong login or password. */
  FEED_AUTH: 'CDR_FEED_AUTH',
  /** The feed answered 429 or 5xx; `retryAfterMs` may say when to come back. */
  FEED_UNAVAILABLE: 'CDR_FEED_UNAVAILABLE',
  /** The feed answered a status the contract does not name. */
  FEED_STATUS: 'CDR_FEED_STATUS',
  /** A 200 whose body does not start with the CSV header (an HTML login page, a text error). */
  FEED_NOT_CSV: 'CDR_FEED_NOT_CSV',
  /** The connection failed, or the body stopped arriving, or ended mid-row. */
  FEED_NETWORK: 'CDR_FEED_NETWORK',
  /** The request or the body went idle for longer than the configured timeout. */
  FEED_TIMEOUT: 'CDR_FEED_TIMEOUT',
  /** The carrier's TLS certificate is not trusted, expired or for another name, or it refused ours. */
  FEED_TLS: 'CDR_FEED_TLS',
  /** A gzip/deflate body that is corrupt or inflates past FEED_MAX_INFLATE_RATIO (a decompression bomb). */
  FEED_ENCODING: 'CDR_FEED_ENCODING',
  /** The CSV header lacks a required column. */
  FEED_HEADER: 'CDR_FEED_HEADER',
  /** One CDR row is invalid; the error names the line, the id when known, and the field. */
  ROW_INVALID: 'CDR_ROW_INVALID',
  /** A row is larger than the configured limit (CSV record) or than Kafka takes (encoded record). */
  ROW_TOO_LARGE: 'CDR_ROW_TOO_LARGE',
  /** A value could not be encoded with the Avro schema; names the field path. */
  ENCODE_FAILED: 'CDR_ENCODE_FAILED',
  /** The schema registry refused or could not be reached. */
  REGISTRY: 'CDR_REGISTRY',
  /** The registry refused the schema as incompatible with the subject's versions (HTTP 409). Not retried. */
  SCHEMA_INCOMPATIBLE: 'CDR_SCHEMA_INCOMPATIBLE',
  /** A topic exists with settings the pipeline cannot use (e.g. cursor topic not compacted). */
  TOPIC_MISCONFIGURED: 'CDR_TOPIC_MISCONFIGURED',
  /** Another process claimed the account (its cursor record names that process). Not retried. */
  FENCED: 'CDR_FENCED',
  /**
   * Kafka fenced this transactional producer (PRODUCER_FENCED): a newer one initialised the same
   * transactional id. Which accounts, if any, were taken over is for the cursor topic to say.
   */
  PRODUCER_FENCED: 'CDR_PRODUCER_FENCED',
  /**
   * The broker no longer takes this producer's epoch (INVALID_PRODUCER_EPOCH): its transaction
   * timed out, or another producer took over. Which of the two is checked before going on.
   */
  PRODUCER_EPOCH: 'CDR_PRODUCER_EPOCH',
  /** Kafka refused a request as too large (MESSAGE_TOO_LARGE, RECORD_LIST_TOO_LARGE). */
  MESSAGE_TOO_LARGE: 'CDR_MESSAGE_TOO_LARGE',
  /** An enricher's partition moved to another member (its transactional id was fenced); it rejoins. */
  PARTITION_MOVED: 'CDR_PARTITION_MOVED',
  /** The enricher's Kafka consumer stopped and will not restart by itself. */
  CONSUMER_STOPPED: 'CDR_CONSUMER_STOPPED',
  /** A Kafka operation failed. */
  KAFKA: 'CDR_KAFKA',
  /**
   * Kafka refused this client: its login, its certificate or the broker's, TLS on one side only, or a
   * missing ACL (the message names the setting, or the operation and resource). Exit 2 at start.
   */
  KAFKA_ACCESS: 'CDR_KAFKA_ACCESS',
  /** The producer's parse worker thread died mid-response; the rest is read again from the cursor. */
  PARSE_WORKER: 'CDR_PARSE_WORKER',
  /** Retries ran out; `cause` holds the last failure. */
  RETRIES_EXHAUSTED: 'CDR_RETRIES_EXHAUSTED',
  /** A local-stack process (broker, registry, simulator) failed to start or died. */
  STACK: 'CDR_STACK',
  /** An operator's command refused to do something unsafe without an explicit flag (the message says which). */
  REFUSED: 'CDR_REFUSED',
  /** Shutdown was requested while the operation was waiting. */
  ABORTED: 'CDR_ABORTED',
  /**
   * A partition's last stable offset stayed behind its high watermark for longer than a transaction
   * may stay open: a transaction no coordinator will end (docs/operations.md, hanging transactions).
   */
  HANGING_TRANSACTION: 'CDR_HANGING_TRANSACTION',
  /** The carrier has no recording at that path (404), still after RECORDINGS_MAX_WAIT: dead-lettered. */
  RECORDING_NOT_FOUND: 'CDR_RECORDING_NOT_FOUND',
  /** The carrier refused the account's login for a recording (401): the account's recordings wait. */
  RECORDING_AUTH: 'CDR_RECORDING_AUTH',
  /** The carrier refused the request's address (403): the egress is not the whitelisted one. */
  RECORDING_FORBIDDEN: 'CDR_RECORDING_FORBIDDEN',
  /** The carrier answered 429 or 5xx, or could not be reached, or went idle; retried. */
  RECORDING_UNAVAILABLE: 'CDR_RECORDING_UNAVAILABLE',
  /** A 200 that is not a recording: an HTML page, an empty body, fewer or more bytes than announced. Retried. */
  RECORDING_BAD_BODY: 'CDR_RECORDING_BAD_BODY',
  /** A recording larger than RECORDINGS_MAX_BYTES: dead-lettered. */
  RECORDING_TOO_LARGE: 'CDR_RECORDING_TOO_LARGE',
  /** The object storage refused or could not be reached. */
  OBJECT_STORE: 'CDR_OBJECT_STORE',
} as const;

export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

/** Failures of the carrier's feed itself: the cursor stands, and the feed's own backoff applies. */
export const FEED_ERRORS: ReadonlySet<ErrorCode> = new Set([
  ErrorCodes.FEED_AUTH,
  ErrorCodes.FEED_UNAVAILABLE,
  ErrorCodes.FEED_STATUS,
  ErrorCodes.FEED_NOT_CSV,
  ErrorCodes.FEED_NETWORK,
  ErrorCodes.FEED_TIMEOUT,
  ErrorCodes.FEED_TLS,
  ErrorCodes.FEED_ENCODING,
  ErrorCodes.FEED_HEADER,
]);

export interface CdrErrorOptions {
  cause?: unknown;
  retriable?: boolean;
  /** When the server said to come back (Retry-After), in ms from when it said so. */
  retryAfterMs?: number | undefined;
  details?: Record<string, unknown>;
}

export class CdrError extends Error {
  readonly code: ErrorCode;
  readonly retriable: boolean;
  readonly retryAfterMs: number | undefined;
  readonly details: Record<string, unknown>;

  constructor(code: ErrorCode, message: string, options: CdrErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'CdrError';
    this.code = code;
    this.retriable = options.retriable ?? false;
    this.retryAfterMs = options.retryAfterMs;
    this.details = options.details ?? {};
  }

  toJSON(): Record<string, unknown> {
    return {
      name: this.name,
      code: this.code,
      message: this.message,
      retriable: this.retriable,
      ...(this.retryAfterMs === undefined ? {} : { retryAfterMs: this.retryAfterMs }),
      details: this.details,
      cause: serializeCause(this.cause),
    };
  }
}

function serializeCause(cause: unknown): unknown {
  if (cause === undefined) return undefined;
  if (cause instanceof CdrError) return cause.toJSON();
  if (cause instanceof Error) return { name: cause.name, message: cause.message };
  return String(cause);
}

export function isCdrError(err: unknown, code?: ErrorCode): err is CdrError {
  return err instanceof CdrError && (code === undefined || err.code === code);
}
