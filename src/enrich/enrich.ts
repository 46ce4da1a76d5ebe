// One raw CDR to its enriched value and its category. Pure.

import { CATALOGUE_VERSION, lookupCallType } from '../cdr/catalogue.ts';
import type { NumberFields, PhoneNumbers } from '../cdr/phone.ts';
import type { RawCdr } from '../cdr/row.ts';

export interface SourcePosition {
  topic: string;
  partition: number;
  offset: number;
}

export interface EnrichedCdr extends RawCdr, NumberFields {
  call_type_known: boolean;
  call_description: string | null;
  category: string;
  direction: string | null;
  network: string | null;
  network_detail: string | null;
  country: string | null;
  catalogue_version: string;
  enriched_at: number;
  source: SourcePosition;
}

export function enrich(raw: RawCdr, source: SourcePosition, now: number, phones: PhoneNumbers): EnrichedCdr {
  const info = lookupCallType(raw.type, raw.sub_type);
  return {
    ...raw,
    call_type_known: info !== undefined,
    call_description: info?.description ?? null,
    category: info?.category ?? 'unknown',
    direction: info?.direction ?? null,
    network: info?.network ?? null,
    network_detail: info?.networkDetail ?? null,
    country: info?.country ?? null,
    catalogue_version: CATALOGUE_VERSION,
    enriched_at: now,
    source,
    ...phones.fields(raw),
  };
}
