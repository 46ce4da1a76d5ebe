// `cdr-pipeline produce`: poll the billing feed and publish every CDR exactly once.
import { setFlagsFromString } from 'node:v8';
import type { Command } from 'commander';
import { ErrorCodes, isCdrError } from '../errors.ts';
import type { CliContext } from './context.ts';
import { READING_HEAP_FLAGS } from './heap.ts';
import { exitCodeOf, serviceAction } from './run.ts';
import { onStop } from './service.ts';

/**
 * A producer of one account keeps little alive beside the response it reads (~25 MB), so growing
 * its heap by half of that starts a full collection every few MB of a backfill's garbage: it grows
 * by all of it instead (10% more CDR/s on a 1,000,000-row response, the same peak RSS).
 */
const ONE_ACCOUNT_HEAP_FLAGS = '--heap-growing-percent=100';

export function registerProduce(program: Command, ctx: CliContext): void {
  program
    .command('produce')
    .description('Poll the billing feed and publish every CDR to Kafka exactly once')
    .action(
      serviceAction(ctx, async (logger) => {
        // Loaded when the command runs: the other commands start without the producer in memory.
        const { loadProducerOptions } = await import('../config/producer.ts');
        const { startProducer } = await import('../producer/index.ts');
        const options = loadProducerOptions(ctx.env);
        setFlagsFromString(options.accounts.length === 1 ? ONE_ACCOUNT_HEAP_FLAGS : READING_HEAP_FLAGS);
        const producer = await startProducer(options, logger);
        onStop(logger, () => producer.stop(), options.service.shutdownTimeoutMs);
        // Every account taken over (exit 3), or a poller that failed (exit 1).
        producer.done.catch((err: unknown) => {
          process.exitCode = exitCodeOf(err);
          if (!isCdrError(err, ErrorCodes.FENCED)) logger.fatal({ err }, 'producer failed');
          producer.stop().finally(() => logger.flush());
        });
      }),
    );
}
