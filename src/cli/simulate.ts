// `cdr-pipeline simulate`: the feed simulator, a deterministic billing feed for the local stack and
// the tests. Its settings (SIM_*) become the simulator's options here: the simulator sits above
// config/ and owns its option types.
import type { Command } from 'commander';
import type { SimulatorEnv } from '../config/simulator.ts';
import type { SimulatorOptions } from '../simulator/index.ts';
import type { CliContext } from './context.ts';
import { serviceAction } from './run.ts';
import { onStop } from './service.ts';

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
    recordings: {
      bytes: cfg.SIM_RECORDING_BYTES,
      allow: (cfg.SIM_RECORDING_ALLOW ?? '')
        .split(',')
        .map((a) => a.trim())
        .filter((a) => a !== ''),
      faults: { latencyMs: 0, rules: cfg.SIM_RECORDING_FAULTS.map((r) => ({ ...r })) },
    },
  };
}

export function registerSimulate(program: Command, ctx: CliContext): void {
  program
    .command('simulate')
    .description('Serve a deterministic billing feed (the feed contract)')
    .action(
      serviceAction(ctx, async (logger) => {
        const { loadSimulatorConfig } = await import('../config/simulator.ts');
        const { startSimulator } = await import('../simulator/index.ts');
        const sim = await startSimulator(
          simulatorOptions(loadSimulatorConfig(ctx.env)),
          logger.child({ component: 'simulator' }),
        );
        onStop(logger, () => sim.close(), 20_000);
      }),
    );
}
