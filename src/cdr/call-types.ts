// The 21 call types of the feed contract (shared/feed-contract.md, "Call types"), as data.
// The pair (type, sub_type) names a call type; `L` and `M` appear with several sub types.
// Enrichment attributes live in enrich/catalogue.ts; this list is only what the contract says.

export interface CallType {
  readonly type: string;
  readonly subType: string;
  readonly description: string;
}

export const CALL_TYPES: readonly CallType[] = Object.freeze([
  { type: 'IB', subType: 'IB', description: 'Inbound Calls' },
  { type: '2T', subType: '2T', description: 'On-net calls' },
  { type: 'L', subType: 'LO', description: 'Local Overage' },
  { type: 'IM', subType: 'INM', description: 'TollFree Inbound Mobile' },
  { type: '0', subType: '0', description: 'Pin Blocked Calls' },
  { type: 'A3', subType: 'A3', description: 'AU 6113 Inbound Nat' },
  { type: 'A8', subType: 'A8', description: 'Inbound AU 6118' },
  { type: 'U0', subType: 'U0', description: 'Inbound UK 4480' },
  { type: 'U1', subType: 'U1', description: 'Inbound US 18xx' },
  { type: '3M', subType: '3M', description: 'AU 6113 Inbound Mob' },
  { type: '9', subType: '9', description: '0900 Calls' },
  { type: 'I', subType: 'I', description: 'International Calls' },
  { type: 'IS', subType: 'IN8', description: 'TollFree Inbound' },
  { type: 'M', subType: 'M', description: 'Calls to Mobile' },
  { type: 'L', subType: 'L', description: 'Local Calls' },
  { type: 'S', subType: 'S', description: 'National Calls' },
  { type: '8', subType: '8', description: 'Toll free calls' },
  { type: 'O', subType: 'O', description: 'Operator Calls' },
  { type: 'M', subType: 'MG', description: 'Calls to Mobile GSM' },
  { type: 'M', subType: 'M3', description: 'Calls to Mobile 3G' },
  { type: 'IF', subType: 'IF', description: 'Inbound Forwarded' },
]);

export function callTypeKey(type: string, subType: string): string {
  return `${type}/${subType}`;
}
