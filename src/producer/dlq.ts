// Dead-letter records: JSON, keyed by account, with everything needed to find and fix the row
// and nothing secret (no URL, no credentials).
import type { Message } from 'kafkajs';

export interface DlqEntry {
  account: string;
  /** The id when the row had a readable one. As a string: exact in every JSON reader. */
  id?: string;
  line: number;
  raw: string;
  /** Set when `raw` was clipped to DLQ_RAW_MAX_CHARS. */
  rawClipped?: boolean;
  errorCode: string;
  field: string;
  reason: string;
  feedHost: string;
  fetchedAt: string;
}

export function dlqMessage(entry: DlqEntry): Message {
  return {
    key: entry.account,
    value: JSON.stringify(entry),
    headers: { 'cdr-error-code': entry.errorCode, 'content-type': 'application/json' },
  };
}
