// A valid row of the carrier's 17-column layout, with any value replaced.
import { LEGACY17_COLUMNS } from '../../src/simulator/index.ts';

export type Legacy17Column = (typeof LEGACY17_COLUMNS)[number];

const BASE: Record<Legacy17Column, string> = {
  ID: '1001',
  'Billing Group': 'Sales',
  'Origin Number': '6491234567',
  'Destination Number': '6421765432',
  Description: 'call',
  Status: 'ANSWERED',
  Terminated: 'Callee',
  Date: '03/11/2026',
  Time: '09:15:02',
  'Date/Time': '03/11/2026 09:15:02',
  'Call Length (seconds)': '60',
  'Call Cost (NZD)': '0.5',
  Smartcode: 'SC1',
  'Smartcode Description': 'rate',
  Type: 'M',
  SubType: 'M3',
  MP3: 'rec/1001.mp3',
};

export function legacy17Row(values: Partial<Record<Legacy17Column, string>> = {}): string[] {
  return LEGACY17_COLUMNS.map((c) => values[c] ?? BASE[c]);
}
