// A feed simulator on port 0 inside the test process, with small deterministic defaults.
import { pino } from 'pino';
import { type RunningSimulator, type SimulatorOptions, startSimulator } from '../../src/simulator/index.ts';

export const SIM_ACCOUNTS = [
  { login: '40021', password: 'pw-40021-secret', firstId: 1000 },
  { login: '40022', password: 'pw-40022-secret', firstId: 5_000_000_000_000 },
];

export function simOptions(overrides: Partial<SimulatorOptions> = {}): SimulatorOptions {
  return {
    host: '127.0.0.1',
    port: 0,
    seed: 7,
    timeZone: 'Australia/Sydney',
    epochMs: Date.UTC(2026, 10, 20, 0, 0, 0),
    historyRows: 200,
    historySpacingMs: 60_000,
    growthPerSecond: 0,
    unknownShare: 0.05,
    malformedShare: 0,
    accounts: SIM_ACCOUNTS.map((a) => ({ ...a })),
    bom: false,
    eol: '\n',
    faults: { latencyMs: 0, rules: [] },
    ...overrides,
  };
}

export function startTestSimulator(overrides: Partial<SimulatorOptions> = {}): Promise<RunningSimulator> {
  return startSimulator(simOptions(overrides), pino({ level: 'silent' }));
}

export function feedUrl(
  sim: RunningSimulator,
  account: { login: string; password: string },
  fromId: number | string,
): string {
  const q = new URLSearchParams({ login: account.login, password: account.password, fromid: String(fromId) });
  return `${sim.url}/billing/feed?${q}`;
}
