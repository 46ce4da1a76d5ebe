#!/usr/bin/env -S node --max-semi-space-size=8
// The `cdr-pipeline` command. It only wires things together: read config once, build the
// component, run it until SIGTERM/SIGINT. Exit codes: 0 after a clean stop, 1 on a runtime
// failure (an enricher whose consumer stopped for good among them), 2 on bad configuration, 3 when
// every account of a producer was taken over by another producer. The operators' commands
// (status, cursor, dlq) are in admin/cli.ts.
import { setFlagsFromString } from 'node:v8';
import { Command, CommanderError } from 'commander';
import { CdrError, ErrorCodes, isCdrError } from './errors.ts';
import { createLogger, logFormat } from './ops/logger.ts';
import { routeProcessWarnings } from './ops/warnings.ts';
import { registerAdminCommands } from './tools/admin/cli.ts';
import { registerReconcileCommand } from './tools/reconcile/cli.ts';
import { registerReplayCommands } from './tools/replay/cli.ts';

const env = process.env;
const logger = createLogger({
  level: env.LOG_LEVEL ?? 'info',
  format: logFormat(env.LOG_FORMAT, process.stdout.isTTY === true),
});
routeProcessWarnings(logger);

const ADMIN_COMMANDS = new Set(['status', 'cursor', 'dlq', 'search', 'export', 'replay', 'reconcile']);

/** V8 flags of the reading tools and the producer, set at start. */
const HEAP_V8_FLAGS = '--heap-growing-percent=50';
// The reading tools stream millions of records through a few MB at a time, and a producer with
// many accounts makes short-lived garbage for each: V8 would let the heap grow to several times
// what is live between full collections. Growing it by half of what is live keeps their peak RSS
// under 256 MB (docs/performance.md).
if (ADMIN_COMMANDS.has(process.argv[2] ?? '') || process.argv[2] === 'produce')
  setFlagsFromString(HEAP_V8_FLAGS);
/**
 * A producer of one account keeps little alive beside the response it reads (~25 MB), so growing
 * its heap by half of that starts a full collection every few MB of a backfill's garbage: it grows
 * by all of it instead (10% more CDR/s on a 1,000,000-row response, the same peak RSS).
 */
const ONE_ACCOUNT_HEAP_V8_FLAGS = '--heap-growing-percent=100';

/** How long a stopped service waits for its last timers and sockets before it leaves anyway. */
const EXIT_GRACE_MS = 2000;

/** Exit code of a producer fenced by another instance of the same account. */
const EXIT_FENCED = 3;

function onStop(stop: () => Promise<void>, timeoutMs = 20_000): void {
  let stopping = false;
  const handler = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'stopping');
    setTimeout(() => {
      logger.error(
        { timeoutMs, open: process.getActiveResourcesInfo() },
        'graceful stop took too long; exiting',
      );
      logger.flush();
      process.exit(1);
    }, timeoutMs).unref();
    stop().then(
      () => {
        logger.info('stopped');
        logger.flush();
        process.exitCode = process.exitCode ?? 0;
        // Everything is committed and closed: the exit code is decided. kafkajs may still hold a
        // timer or a socket of a producer discarded in the middle of its retries (after broker
        // faults): the process leaves after a moment instead of waiting for those to run out.
        setTimeout(() => {
          logger.debug({ open: process.getActiveResourcesInfo() }, 'exiting with resources still open');
          logger.flush();
          process.exit();
        }, EXIT_GRACE_MS).unref();
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

// The services are loaded when their command runs: the operators' tools start without the
// producer's HTTP client, metrics and servers in memory.
async function simulate(): Promise<void> {
  const { loadSimulatorConfig } = await import('./config/simulator.ts');
  const { simulatorOptions, startSimulator } = await import('./simulator/index.ts');
  const cfg = loadSimulatorConfig(env);
  const sim = await startSimulator(simulatorOptions(cfg), logger.child({ component: 'simulator' }));
  onStop(() => sim.close());
}

async function produce(): Promise<void> {
  const { loadProducerOptions } = await import('./config/producer.ts');
  const { startProducer } = await import('./producer/index.ts');
  const options = loadProducerOptions(env);
  if (options.accounts.length === 1) setFlagsFromString(ONE_ACCOUNT_HEAP_V8_FLAGS);
  const producer = await startProducer(options, logger);
  onStop(() => producer.stop(), options.service.shutdownTimeoutMs);
  producer.done.catch((err: unknown) => {
    process.exitCode = isCdrError(err, ErrorCodes.FENCED) ? EXIT_FENCED : 1;
    if (!isCdrError(err, ErrorCodes.FENCED)) logger.fatal({ err }, 'producer failed');
    producer.stop().finally(() => logger.flush());
  });
}

async function enrichCommand(): Promise<void> {
  const { loadEnricherOptions } = await import('./config/enricher.ts');
  const { startEnricher } = await import('./enrich/index.ts');
  const options = loadEnricherOptions(env);
  const enricher = await startEnricher(options, logger);
  onStop(() => enricher.stop(), options.service.shutdownTimeoutMs);
  // A consumer that will not restart leaves a live but idle member: exit so a supervisor restarts it.
  enricher.done.catch(() => {
    process.exitCode = 1;
    enricher.stop().finally(() => logger.flush());
  });
}

const program = new Command('cdr-pipeline')
  .description('A carrier CDR billing feed as an exactly-once Kafka stream')
  .showHelpAfterError();
program
  .command('produce')
  .description('Poll the billing feed and publish every CDR to Kafka exactly once')
  .action(produce);
program
  .command('enrich')
  .description('Enrich cdr.raw by call type and fan out to one topic per category, exactly once')
  .action(enrichCommand);
program
  .command('simulate')
  .description('Serve a deterministic billing feed (the feed contract)')
  .action(simulate);
registerAdminCommands(program, env);
registerReplayCommands(program, env);
registerReconcileCommand(program, env);
// Usage errors (a missing option, an unknown command) exit 2 like bad configuration; help exits 0.
const overrideExits = (c: Command): void => {
  c.exitOverride();
  for (const sub of c.commands) overrideExits(sub);
};
overrideExits(program);

program.parseAsync(process.argv).catch((err: unknown) => {
  if (err instanceof CommanderError) {
    process.exitCode = err.exitCode === 0 ? 0 : 2;
  } else if (isCdrError(err, ErrorCodes.CONFIG_INVALID)) {
    logger.fatal({ code: err.code }, err.message);
    process.exitCode = 2;
  } else if (isCdrError(err, ErrorCodes.REFUSED)) {
    console.error(err.message);
    process.exitCode = 1;
  } else if (ADMIN_COMMANDS.has(process.argv[2] ?? '')) {
    // An operator at a terminal: one readable line, not a JSON log record.
    const cause = (err as { cause?: { message?: string } }).cause?.message;
    console.error(`cdr-pipeline ${process.argv[2]}: ${(err as Error).message}${cause ? ` (${cause})` : ''}`);
    // reconcile: 1 means "differs", so a reconciliation that could not run is 2.
    process.exitCode = process.argv[2] === 'reconcile' ? 2 : 1;
  } else {
    logger.fatal({ err }, err instanceof CdrError ? err.message : 'failed');
    process.exitCode = 1;
  }
  logger.flush();
});
