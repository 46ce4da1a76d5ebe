// The shape of src/ (docs/design.md): each folder imports only from the folders before it in the
// pipeline's order, no import makes a cycle, no file grows past 400 lines, and nothing outside
// config/ and cli/ reads the environment.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = new URL('../../src/', import.meta.url).pathname;
const ORDER = [
  'errors.ts',
  'cdr',
  'codec',
  'ops',
  'config',
  'kafka',
  'topics',
  'feed',
  'producer',
  'enrich',
  'recordings',
  'tools',
  'simulator',
  'cli',
  'cli.ts',
];

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? files(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

const all = files(SRC).map((f) => ({ path: relative(SRC, f), text: readFileSync(f, 'utf8') }));
const imports = new Map(
  all.map(({ path, text }) => [
    path,
    [...text.matchAll(/(?:from|import)\s*\(?\s*'(\.{1,2}\/[^']+)'/g)].map((m) =>
      normalize(join(dirname(path), m[1] as string)),
    ),
  ]),
);
const folderOf = (path: string) => path.split('/')[0] as string;

describe('the layout of src/', () => {
  it('reads the imports it checks', () => {
    expect([...imports.values()].flat().length).toBeGreaterThan(300);
    expect(imports.get('producer/index.ts')).toContain('producer/account-poller.ts');
  });

  it('has every folder in the order', () => {
    for (const { path } of all) expect(ORDER, path).toContain(folderOf(path));
  });

  it('imports only from the folders before', () => {
    const upward: string[] = [];
    for (const [from, targets] of imports)
      for (const to of targets)
        if (ORDER.indexOf(folderOf(to)) > ORDER.indexOf(folderOf(from))) upward.push(`${from} -> ${to}`);
    expect(upward).toEqual([]);
  });

  it('has no import cycle', () => {
    const cycles: string[] = [];
    const state = new Map<string, 'open' | 'done'>();
    const stack: string[] = [];
    const visit = (file: string) => {
      state.set(file, 'open');
      stack.push(file);
      for (const next of imports.get(file) ?? []) {
        if (state.get(next) === 'open') cycles.push([...stack.slice(stack.indexOf(next)), next].join(' -> '));
        else if (!state.has(next)) visit(next);
      }
      stack.pop();
      state.set(file, 'done');
    };
    for (const file of imports.keys()) if (!state.has(file)) visit(file);
    expect(cycles).toEqual([]);
  });

  it('keeps every file under 400 lines', () => {
    const long = all.filter((f) => f.text.split('\n').length > 400).map((f) => f.path);
    expect(long).toEqual([]);
  });

  it('reads the environment only in config/ and cli/', () => {
    const readers = all
      .filter((f) => /process\.env\b/.test(f.text))
      .map((f) => f.path)
      .filter((p) => !p.startsWith('config/') && !p.startsWith('cli'));
    expect(readers).toEqual([]);
  });
});
