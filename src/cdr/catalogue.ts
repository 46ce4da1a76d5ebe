// The call-type catalogue: what enrichment adds to each of the contract's 21 (type, sub_type)
// pairs. Every attribute is read off the contract's description, and the reason is written beside
// it; test/unit/catalogue.test.ts checks the list against the contract pair by pair.
//
// - category: what billing routes on (one topic per category).
// - direction: inbound (someone called the customer's number), outbound (the customer called),
//   internal (both ends on the carrier's own network).
// - network: fixed or mobile, for the party the description names (the called party for outbound
//   calls, the calling party for inbound ones); networkDetail says GSM or 3G where the sub type does.
// - country: the country the description names (AU, UK, US), or null when it names none.
import { CALL_TYPES, type CallType, callTypeKey } from './call-types.ts';

export const CATALOGUE_VERSION = '2026-11-27.1';

export type Category =
  | 'inbound'
  | 'tollfree-inbound'
  | 'forwarded'
  | 'on-net'
  | 'local'
  | 'national'
  | 'mobile'
  | 'international'
  | 'premium'
  | 'tollfree'
  | 'operator'
  | 'blocked';

export const CATEGORIES: readonly Category[] = [
  'inbound',
  'tollfree-inbound',
  'forwarded',
  'on-net',
  'local',
  'national',
  'mobile',
  'international',
  'premium',
  'tollfree',
  'operator',
  'blocked',
];

export interface CallTypeInfo extends CallType {
  category: Category;
  direction: 'inbound' | 'outbound' | 'internal';
  network: 'fixed' | 'mobile';
  networkDetail: 'GSM' | '3G' | null;
  country: 'AU' | 'UK' | 'US' | null;
  /** Why these attributes: the words of the description they come from. */
  reason: string;
}

type Attrs = Omit<CallTypeInfo, keyof CallType>;
const a = (
  category: Category,
  direction: Attrs['direction'],
  network: Attrs['network'],
  country: Attrs['country'],
  reason: string,
  networkDetail: Attrs['networkDetail'] = null,
): Attrs => ({ category, direction, network, networkDetail, country, reason });

const ATTRIBUTES: Record<string, Attrs> = {
  'IB/IB': a(
    'inbound',
    'inbound',
    'fixed',
    null,
    '"Inbound Calls": a call received, no mobile or country named',
  ),
  '2T/2T': a('on-net', 'internal', 'fixed', null, '"On-net calls": both ends on the carrier network'),
  'L/LO': a('local', 'outbound', 'fixed', null, '"Local Overage": local calls past the plan allowance'),
  'IM/INM': a(
    'tollfree-inbound',
    'inbound',
    'mobile',
    null,
    '"TollFree Inbound Mobile": a toll-free number called from a mobile',
  ),
  '0/0': a('blocked', 'outbound', 'fixed', null, '"Pin Blocked Calls": attempts stopped by a PIN block'),
  'A3/A3': a(
    'inbound',
    'inbound',
    'fixed',
    'AU',
    '"AU 6113 Inbound Nat": an Australian 6113 number called from a national fixed line',
  ),
  'A8/A8': a('inbound', 'inbound', 'fixed', 'AU', '"Inbound AU 6118": an Australian 6118 number called'),
  'U0/U0': a('inbound', 'inbound', 'fixed', 'UK', '"Inbound UK 4480": a UK 4480 number called'),
  'U1/U1': a(
    'tollfree-inbound',
    'inbound',
    'fixed',
    'US',
    '"Inbound US 18xx": a US 1-8xx number, which is toll free',
  ),
  '3M/3M': a(
    'inbound',
    'inbound',
    'mobile',
    'AU',
    '"AU 6113 Inbound Mob": an Australian 6113 number called from a mobile',
  ),
  '9/9': a('premium', 'outbound', 'fixed', null, '"0900 Calls": 0900 numbers are premium rate'),
  'I/I': a(
    'international',
    'outbound',
    'fixed',
    null,
    '"International Calls": to another country (which one, the number says)',
  ),
  'IS/IN8': a(
    'tollfree-inbound',
    'inbound',
    'fixed',
    null,
    '"TollFree Inbound": the customer\'s toll-free number called',
  ),
  'M/M': a('mobile', 'outbound', 'mobile', null, '"Calls to Mobile"'),
  'L/L': a('local', 'outbound', 'fixed', null, '"Local Calls"'),
  'S/S': a('national', 'outbound', 'fixed', null, '"National Calls": long distance within the country'),
  '8/8': a(
    'tollfree',
    'outbound',
    'fixed',
    null,
    '"Toll free calls": the customer called a toll-free number',
  ),
  'O/O': a('operator', 'outbound', 'fixed', null, '"Operator Calls"'),
  'M/MG': a('mobile', 'outbound', 'mobile', null, '"Calls to Mobile GSM"', 'GSM'),
  'M/M3': a('mobile', 'outbound', 'mobile', null, '"Calls to Mobile 3G"', '3G'),
  'IF/IF': a('forwarded', 'inbound', 'fixed', null, '"Inbound Forwarded": a received call forwarded on'),
};

export const CATALOGUE: readonly CallTypeInfo[] = Object.freeze(
  CALL_TYPES.map((c) => {
    const attrs = ATTRIBUTES[callTypeKey(c.type, c.subType)];
    if (!attrs) throw new Error(`catalogue lacks ${callTypeKey(c.type, c.subType)}`);
    return Object.freeze({ ...c, ...attrs });
  }),
);

const BY_KEY = new Map(CATALOGUE.map((c) => [callTypeKey(c.type, c.subType), c]));

/** The catalogue entry of a pair, or undefined for a pair outside the contract (routed as unknown). */
export function lookupCallType(type: string, subType: string): CallTypeInfo | undefined {
  return BY_KEY.get(callTypeKey(type, subType));
}
