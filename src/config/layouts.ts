// The layouts a producer reads feeds with: a column map from FEED_COLUMNS_FILE (JSON or YAML) first,
// then the built-in contract and 17-column layouts, whose date and time forms FEED_DATE_FORMAT,
// FEED_TIME_FORMAT and FEED_DATETIME_FORMAT can change. Read and validated once, at start.
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { CONTRACT_LAYOUT, FIELDS, type Layout, LEGACY17_LAYOUT } from '../cdr/layouts.ts';
import { configError } from './env.ts';

const DATE_FORM = /^(?=.*YYYY)(?=.*MM)(?=.*DD)[YMD./\- ]+$/;
const TIME_FORM = /^(?=.*HH)(?=.*MM)[HMS:.]+$/;

export const dateForm = z
  .string()
  .regex(DATE_FORM, 'must be a date form made of YYYY, MM, DD and separators (e.g. DD/MM/YYYY)');
export const timeForm = z
  .string()
  .regex(TIME_FORM, 'must be a time form made of HH, MM, SS and separators (e.g. HH:MM:SS)');
export const dateTimeForm = z.string().refine((s) => {
  const i = s.indexOf(' ');
  return i > 0 && DATE_FORM.test(s.slice(0, i)) && TIME_FORM.test(s.slice(i + 1));
}, 'must be a date form, one space and a time form (e.g. DD/MM/YYYY HH:MM:SS)');

const field = z.enum(FIELDS);
const columnMap = z.object({
  name: z.string().min(1).default('configured'),
  columns: z
    .partialRecord(field, z.string().min(1))
    .refine((c) => c.id !== undefined, 'must name the id column'),
  required: z.array(z.union([field, z.literal('start')])).optional(),
  pointerWhenEmpty: z.array(field).optional(),
  forms: z
    .object({ date: dateForm.optional(), time: timeForm.optional(), dateTime: dateTimeForm.optional() })
    .optional(),
  decimalSeparator: z.enum(['.', ',']).default('.'),
  currency: z
    .string()
    .regex(/^[A-Z]{3}$/, 'must be a three-letter currency code')
    .optional(),
});

export interface LayoutEnv {
  FEED_COLUMNS_FILE?: string | undefined;
  FEED_DATE_FORMAT: string;
  FEED_TIME_FORMAT: string;
  FEED_DATETIME_FORMAT: string;
}

export function readLayouts(env: LayoutEnv): readonly Layout[] {
  const forms = {
    date: env.FEED_DATE_FORMAT,
    time: env.FEED_TIME_FORMAT,
    dateTime: env.FEED_DATETIME_FORMAT,
  };
  const builtIn = [{ ...CONTRACT_LAYOUT }, { ...LEGACY17_LAYOUT, forms }];
  if (!env.FEED_COLUMNS_FILE) return Object.freeze(builtIn);
  return Object.freeze([readColumnMap(env.FEED_COLUMNS_FILE, forms), ...builtIn]);
}

function readColumnMap(path: string, defaults: Layout['forms']): Layout {
  let parsed: unknown;
  try {
    const text = readFileSync(path, 'utf8');
    parsed = /\.ya?ml$/i.test(path) ? parseYaml(text) : JSON.parse(text);
  } catch (err) {
    configError(
      'FEED_COLUMNS_FILE',
      `cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
    );
  }
  const result = columnMap.safeParse(parsed);
  if (!result.success) {
    const issue = result.error.issues[0];
    configError('FEED_COLUMNS_FILE', `${issue?.path.join('.') || '(file)'}: ${issue?.message}`);
  }
  const m = result.data;
  const has = (f: (typeof FIELDS)[number]) => m.columns[f] !== undefined;
  if (!has('start_time') && !has('date_time') && !has('date'))
    configError(
      'FEED_COLUMNS_FILE',
      'columns: must name a call start column (start_time, date_time or date)',
    );
  const required =
    m.required ??
    (['id', 'start', 'from', 'to', 'seconds', 'type', 'sub_type', 'cost'] as const).filter(
      (f) => f === 'start' || has(f),
    );
  return {
    name: m.name,
    columns: m.columns,
    required: [
      ...required,
      ...(has('account') ? ['account' as const] : []),
      ...(has('billing_period') ? ['billing_period' as const] : []),
    ],
    ...(m.pointerWhenEmpty ? { pointerWhenEmpty: m.pointerWhenEmpty } : {}),
    forms: { ...defaults, ...m.forms },
    decimalSeparator: m.decimalSeparator,
    ...(m.currency ? { currency: m.currency } : {}),
  };
}
