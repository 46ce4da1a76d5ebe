#!/usr/bin/env node
// The `cdr-pipeline` command. It only wires things together: read config once, build the
// component, run it until SIGTERM/SIGINT. Exit codes: 0 after a clean stop, 1 on a runtime
// failure, 2 on bad configuration.
import { Command } from 'commander';
import { loadSimulatorConfig } from './config/simulator.ts';
import { CdrError, ErrorCodes, isCdrError } from './errors.ts';
import { createLogger } from './ops/logger.ts';
import { simulatorOptions, startSimulator } from './simulator/index.ts';

const env = process.env;
const logger = createLogger({ level: env.LOG_LEVEL ?? 'info' });

function onStop(stop: () => Promise<void>): void {
  let stopping = false;
  const handler = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'stopping');
    stop().then(
      () => {
        logger.flush();
        process.exitCode = process.exitCode ?? 0;
      },
      (err: unknown) => {
        logger.error({ err }, 'stop failed');
        process.exitCode = 1;
      },
    );
  };
  process.on('SIGTERM', handler);
  process.on('SIGINT', handler);
}

async function simulate(): Promise<void> {
  const cfg = loadSimulatorConfig(env);
  const sim = await startSimulator(simulatorOptions(cfg), logger.child({ component: 'simulator' }));
  onStop(() => sim.close());
}

const program = new Command('cdr-pipeline')
  .description('A carrier CDR billing feed as an exactly-once Kafka stream')
  .showHelpAfterError();
program
  .command('simulate')
  .description('Serve a deterministic billing feed (the feed contract)')
  .action(simulate);

program.parseAsync(process.argv).catch((err: unknown) => {
  if (isCdrError(err, ErrorCodes.CONFIG_INVALID)) {
    logger.fatal({ code: err.code }, err.message);
    process.exitCode = 2;
  } else {
    logger.fatal({ err }, err instanceof CdrError ? err.message : 'failed');
    process.exitCode = 1;
  }
  logger.flush();
});
