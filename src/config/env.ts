// Reads a block of environment variables against a zod schema whose keys are the variable names,
// so every error names the variable to fix. Every schema in this folder documents each key with
// `.describe()`; docs/configuration.md is generated from them (scripts/config-docs.ts).
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { CdrError, ErrorCodes } from '../errors.ts';

export type Env = Readonly<Record<string, string | undefined>>;

export function parseEnv<S extends z.ZodObject>(schema: S, env: Env): Readonly<z.infer<S>> {
  // An empty variable counts as unset, as in most twelve-factor tools.
  const input: Record<string, string> = {};
  for (const key of Object.keys(schema.shape)) {
    const value = env[key];
    if (value !== undefined && value !== '') input[key] = value;
  }
  const result = schema.safeParse(input);
  if (!result.success) {
    const problems = result.error.issues.map((issue) => {
      const key = issue.path.length > 0 ? issue.path.map(String).join('.') : '(config)';
      const unset =
        issue.code === 'invalid_type' &&
        issue.path.length === 1 &&
        input[String(issue.path[0])] === undefined;
      return `${key}: ${unset ? 'is required and not set' : issue.message}`;
    });
    throw new CdrError(ErrorCodes.CONFIG_INVALID, `invalid configuration: ${problems.join('; ')}`, {
      details: { keys: result.error.issues.map((i) => String(i.path[0] ?? '')) },
    });
  }
  return Object.freeze(result.data);
}

/** A configuration error naming the key to fix. */
export function configError(key: string, message: string): never {
  throw new CdrError(ErrorCodes.CONFIG_INVALID, `invalid configuration: ${key}: ${message}`, {
    details: { keys: [key] },
  });
}

/** The documented keys of a schema: [variable, description, default]. */
export function describeSchema(schema: z.ZodObject): Array<[string, string, string]> {
  return Object.entries(schema.shape).map(([key, field]) => {
    const f = field as z.ZodType;
    const def =
      f instanceof z.ZodDefault
        ? JSON.stringify(f.def.defaultValue)
        : f instanceof z.ZodOptional
          ? '(unset)'
          : '(required)';
    return [key, f.description ?? '', def];
  });
}

export const int = (min: number, max = Number.MAX_SAFE_INTEGER) => z.coerce.number().int().min(min).max(max);
export const share = () => z.coerce.number().min(0).max(1);
export const bool = () => z.stringbool();
export const json = <T extends z.ZodType>(inner: T) =>
  z
    .string()
    .transform((text, ctx) => {
      try {
        return JSON.parse(text) as unknown;
      } catch {
        ctx.addIssue({ code: 'custom', message: 'is not valid JSON' });
        return z.NEVER;
      }
    })
    .pipe(inner);

/** A secret given inline or as a file; both at once is an error. Never echoes the value. */
export function secret(
  inline: string | undefined,
  file: string | undefined,
  key: string,
): string | undefined {
  if (inline !== undefined && file !== undefined)
    configError(key, `set either ${key} or ${key}_FILE, not both`);
  if (file === undefined) return inline;
  return readConfigFile(`${key}_FILE`, file).replace(/\r?\n$/, '');
}

/** A file a setting names; a start-up error naming `key` when it cannot be read. */
export function readConfigFile(key: string, path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    configError(key, `cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
}

/** The object and everything in it made read-only: options handed inward are never changed. */
export function deepFreeze<T>(value: T): Readonly<T> {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const inner of Object.values(value)) deepFreeze(inner);
  }
  return value;
}

/** A PEM file's text; a start-up error naming `key` when it cannot be read or is not PEM. */
export function readPemFile(key: string, path: string): string {
  const text = readConfigFile(key, path);
  if (!text.includes('-----BEGIN ')) configError(key, 'is not a PEM file');
  return text;
}
