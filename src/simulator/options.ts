// Turns the validated simulator config into server options.
import type { SimulatorEnv } from '../config/simulator.ts';
import type { SimulatorOptions } from './server.ts';

export function simulatorOptions(cfg: Readonly<SimulatorEnv>, nowMs = Date.now()): SimulatorOptions {
  return {
    host: cfg.SIM_HOST,
    port: cfg.SIM_PORT,
    seed: cfg.SIM_SEED,
    timeZone: cfg.SIM_TIMEZONE,
    // Whole seconds: the feed's times have no fraction.
    epochMs: cfg.SIM_EPOCH_MS ?? Math.floor(nowMs / 1000) * 1000,
    historyRows: cfg.SIM_HISTORY_ROWS,
    historySpacingMs: cfg.SIM_HISTORY_SPACING_MS,
    growthPerSecond: cfg.SIM_GROWTH_PER_SEC,
    unknownShare: cfg.SIM_UNKNOWN_SHARE,
    malformedShare: cfg.SIM_MALFORMED_SHARE,
    lateShare: cfg.SIM_LATE_SHARE,
    accounts: cfg.SIM_ACCOUNTS.map((a) => ({ ...a })),
    bom: cfg.SIM_BOM,
    eol: cfg.SIM_CRLF ? '\r\n' : '\n',
    faults: { latencyMs: cfg.SIM_LATENCY_MS, rules: cfg.SIM_FAULTS.map((r) => ({ ...r })) },
    poisonRows: cfg.SIM_POISON_ROWS.map((r) => ({ ...r })),
    layout: cfg.SIM_LAYOUT,
    delimiter: cfg.SIM_DELIMITER,
    idGaps: cfg.SIM_ID_GAPS.map((g) => ({ ...g })),
    ...(cfg.SIM_WINDOW_IDS === undefined ? {} : { windowIds: cfg.SIM_WINDOW_IDS }),
  };
}
