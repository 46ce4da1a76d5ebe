// Which processes the local stack started, by part, in .local/stack.json: one process for the
// single broker, the registry and the simulator; one per node (in node order) for the cluster.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { LOCAL, STATE_FILE } from './paths.ts';
import type { Started } from './processes.ts';

export type Part = 'kafka' | 'cluster' | 'registry' | 'simulator' | 's3' | 'proxy';
export type State = Partial<Record<Part, Started | Array<Started | null>>>;

export function readState(): State {
  return existsSync(STATE_FILE) ? (JSON.parse(readFileSync(STATE_FILE, 'utf8')) as State) : {};
}

export function writeState(state: State): void {
  mkdirSync(LOCAL, { recursive: true });
  writeFileSync(STATE_FILE, `${JSON.stringify(state, null, 2)}\n`);
}

/**
 * Sets (or, with undefined, removes) one part's entry. Read and written in one synchronous step, so
 * two commands changing different parts at once (a fault campaign restarting a node while
 * `local:up` starts the single broker) do not drop each other's entries.
 */
export function setPart(part: Part, entry: State[Part] | undefined): void {
  const state = readState();
  if (entry === undefined) delete state[part];
  else state[part] = entry;
  writeState(state);
}

/** The processes of a part, by node (null: a node not started). */
export function processesOf(state: State, part: Part): Array<Started | null> {
  const entry = state[part];
  if (entry === undefined) return [];
  return Array.isArray(entry) ? entry : [entry];
}
