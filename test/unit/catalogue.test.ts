// The enrichment catalogue against the contract's call-type table, pair by pair.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CALL_TYPES } from '../../src/cdr/call-types.ts';
import { CATALOGUE, CATEGORIES, lookupCallType } from '../../src/cdr/catalogue.ts';

// The contract's table as printed in shared/feed-contract.md (copied here so the test needs no
// file outside the repo): type | sub_type | description.
const CONTRACT_TABLE = `
| IB | IB | Inbound Calls |
| 2T | 2T | On-net calls |
| L | LO | Local Overage |
| IM | INM | TollFree Inbound Mobile |
| 0 | 0 | Pin Blocked Calls |
| A3 | A3 | AU 6113 Inbound Nat |
| A8 | A8 | Inbound AU 6118 |
| U0 | U0 | Inbound UK 4480 |
| U1 | U1 | Inbound US 18xx |
| 3M | 3M | AU 6113 Inbound Mob |
| 9 | 9 | 0900 Calls |
| I | I | International Calls |
| IS | IN8 | TollFree Inbound |
| M | M | Calls to Mobile |
| L | L | Local Calls |
| S | S | National Calls |
| 8 | 8 | Toll free calls |
| O | O | Operator Calls |
| M | MG | Calls to Mobile GSM |
| M | M3 | Calls to Mobile 3G |
| IF | IF | Inbound Forwarded |`;

const contract = CONTRACT_TABLE.trim()
  .split('\n')
  .map(
    (line) =>
      line
        .split('|')
        .slice(1, 4)
        .map((s) => s.trim()) as [string, string, string],
  );

describe('call-type catalogue', () => {
  it('has the contract 21 pairs, in order, with their descriptions', () => {
    expect(contract).toHaveLength(21);
    expect(CALL_TYPES.map((c) => [c.type, c.subType, c.description])).toEqual(contract);
    expect(CATALOGUE.map((c) => [c.type, c.subType, c.description])).toEqual(contract);
  });

  it.each(contract)('%s/%s (%s) has attributes its description supports', (type, subType, description) => {
    const c = lookupCallType(type, subType);
    expect(c).toBeDefined();
    if (!c) return;
    expect(CATEGORIES).toContain(c.category);
    expect(c.reason).toContain(description.split(' ')[0] as string);
    if (/inbound/i.test(description)) expect(c.direction).toBe('inbound');
    if (/^calls to|^local|^national|^international|^operator|^0900|^toll free calls/i.test(description)) {
      expect(c.direction).toBe('outbound');
    }
    expect(c.network).toBe(/mobile|mob$/i.test(description) ? 'mobile' : 'fixed');
    expect(c.networkDetail).toBe(/GSM/.test(description) ? 'GSM' : /3G/.test(description) ? '3G' : null);
    const named = /\b(AU|UK|US)\b/.exec(description)?.[1] ?? null;
    expect(c.country).toBe(named);
    if (/tollfree/i.test(description.replace(/\s/g, ''))) expect(c.category).toMatch(/tollfree/);
  });

  it('leaves pairs outside the contract unknown', () => {
    expect(lookupCallType('M', 'M5')).toBeUndefined();
    expect(lookupCallType('X1', 'X1')).toBeUndefined();
  });

  it('matches the contract file when it is there', () => {
    let text: string;
    try {
      text = readFileSync(new URL('../../../shared/feed-contract.md', import.meta.url), 'utf8');
    } catch {
      return; // a clone without the steering repo beside it: the embedded copy above still holds
    }
    for (const [type, subType, description] of contract)
      expect(text).toContain(`| ${type} | ${subType} | ${description} |`);
  });
});
