// The project's own feed simulator (`cdr-pipeline simulate`), run with the Node that runs this script.
// By default it serves the carrier's 17-column layout the way real accounts get it (windows of
// 10,000 ids, a gap in the ids wider than a window, answered with a pointer row), whose MP3 column
// names the recordings it also serves; STACK_FEED_LAYOUT=contract serves the contract's layout.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { DEFAULT_SIM_ACCOUNTS } from '../../src/config/simulator.ts';
import { LOCAL, PORTS, ROOT } from './paths.ts';
import { type Started, startDetached } from './processes.ts';
import { EGRESS_ADDRESS } from './proxy.ts';

const LAYOUT_FILE = `${LOCAL}/simulator/layout`;

/**
 * The demo accounts of each layout. The 17-column feed has accounts of its own, like a second
 * carrier account: switching layouts never leaves one feed's cursor past the other's ids.
 */
export function demoAccounts(
  layout: StackFeedLayout,
): Array<{ login: string; password: string; firstId: number }> {
  if (layout === 'contract') return DEFAULT_SIM_ACCOUNTS.map((a) => ({ ...a }));
  return [
    { login: '70021', password: 'sim-secret-70021', firstId: 1000 },
    { login: '70022', password: 'sim-secret-70022', firstId: 8_000_000_000_000 },
  ];
}

export type StackFeedLayout = 'contract' | 'legacy17';

/** The layout asked for with STACK_FEED_LAYOUT (legacy17, the real feeds' layout, when unset). */
export function wantedLayout(): StackFeedLayout {
  const v = process.env.STACK_FEED_LAYOUT ?? 'legacy17';
  if (v !== 'contract' && v !== 'legacy17')
    throw new Error(`STACK_FEED_LAYOUT must be contract or legacy17, got "${v}"`);
  return v;
}

/** The layout the running simulator was started with (contract for one started before layouts). */
export function runningLayout(): StackFeedLayout {
  return existsSync(LAYOUT_FILE) && readFileSync(LAYOUT_FILE, 'utf8').trim() === 'legacy17'
    ? 'legacy17'
    : 'contract';
}

/** The simulator's environment for a layout: its accounts are the ones ./dev start gives the producer. */
export function simulatorEnv(layout: StackFeedLayout): Record<string, string> {
  const legacy: Record<string, string> =
    layout === 'legacy17'
      ? {
          SIM_LAYOUT: 'legacy17',
          SIM_WINDOW_IDS: '10000',
          SIM_ID_GAPS: JSON.stringify([{ afterRow: 4000, ids: 25_000 }]),
        }
      : {};
  return {
    ...legacy,
    SIM_ACCOUNTS: JSON.stringify(demoAccounts(layout)),
    SIM_HOST: '127.0.0.1',
    SIM_PORT: String(PORTS.simulator),
    // Recordings only for the egress proxy's address: the carrier's whitelisted static IP.
    SIM_RECORDING_ALLOW: EGRESS_ADDRESS,
  };
}

export function startSimulatorProcess(): Started {
  const layout = wantedLayout();
  mkdirSync(`${LOCAL}/simulator`, { recursive: true });
  writeFileSync(LAYOUT_FILE, layout);
  return startDetached(
    process.execPath,
    [`${ROOT}/src/cli.ts`, 'simulate'],
    `${LOCAL}/simulator/simulator.log`,
    { ...process.env, ...simulatorEnv(layout) },
  );
}

export async function simulatorReady(url: string): Promise<boolean> {
  try {
    const res = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(2000) });
    await res.body?.cancel();
    return res.ok;
  } catch {
    return false;
  }
}
