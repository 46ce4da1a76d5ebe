// A decoded cdr-raw record for unit tests: every field set, the hard values in (a formula-looking
// description with quotes and a line break, a credit, an id past 2^32); override what a test needs.
import { costToBytes } from '../../src/cdr/decimal.ts';
import type { RawCdr } from '../../src/cdr/row.ts';

export const rawCdr = (o: Partial<RawCdr> = {}): RawCdr => ({
  id: 5_000_000_000_123,
  account: '40021',
  billing_group: 'Sales',
  billing_period: '2026-11',
  start_time: Date.parse('2026-11-03T09:15:02+11:00'),
  start_time_text: '2026-11-03T09:15:02+11:00',
  from: '+61 2 9000 1234',
  to: '61412345678',
  seconds: 125,
  type: 'M',
  sub_type: 'M3',
  cost: costToBytes('-0.4170'),
  cost_text: '-0.4170',
  description: '=HYPERLINK("http://x","click"), then\r\na "quote"',
  extra: { carrier_ref: 'CR-1' },
  ingest: { ingested_at: 0, feed_host: 'h:1', line: 2 },
  layout: 'contract',
  billing_period_derived: false,
  currency: null,
  date_text: null,
  time_text: null,
  status: null,
  terminated: null,
  smartcode: null,
  smartcode_description: null,
  recording: null,
  ...o,
});
