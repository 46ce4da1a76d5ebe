// The feed's header line: it names the columns and so picks the layout (layouts.ts). Names are
// matched case-insensitively with surrounding spaces trimmed, in any order; columns a layout does
// not name are kept (by their header text) and carried.
import { CONTRACT_LAYOUT, type HeaderMap, type Layout, LEGACY17_LAYOUT, pickLayout } from './layouts.ts';

export type { HeaderMap } from './layouts.ts';

export { CONTRACT_COLUMNS, type ContractColumn } from './layouts.ts';

/** The layouts the producer knows without configuration, in the order they are tried. */
export const BUILT_IN_LAYOUTS: readonly Layout[] = [CONTRACT_LAYOUT, LEGACY17_LAYOUT];

/** The header map of the first of `layouts` (by default the built-in ones) that the header fits. */
export function readHeader(
  fields: readonly string[],
  layouts: readonly Layout[] = BUILT_IN_LAYOUTS,
  currency?: string,
): HeaderMap {
  return pickLayout(fields, layouts, currency);
}

/**
 * True when a first line can be a CSV header at all: an HTML page or a one-line text error cannot.
 * Whether it fits a layout is readHeader's question.
 */
export function looksLikeHeader(fields: readonly string[]): boolean {
  return fields.length >= 3 && !fields[0]?.trimStart().startsWith('<');
}
