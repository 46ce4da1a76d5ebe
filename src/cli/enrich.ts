// `cdr-pipeline enrich`: enrich cdr.raw by call type and fan it out to one topic per category.
import type { Command } from 'commander';
import type { CliContext } from './context.ts';
import { EXIT, exitCodeOf, serviceAction } from './run.ts';
import { onStop } from './service.ts';

export function registerEnrich(program: Command, ctx: CliContext): void {
  program
    .command('enrich')
    .description('Enrich cdr.raw by call type and fan out to one topic per category, exactly once')
    .action(
      serviceAction(ctx, async (logger) => {
        const { loadEnricherOptions } = await import('../config/enricher.ts');
        const { startEnricher } = await import('../enrich/index.ts');
        const options = loadEnricherOptions(ctx.env);
        const enricher = await startEnricher(options, logger);
        onStop(logger, () => enricher.stop(), options.service.shutdownTimeoutMs);
        // A consumer that will not restart leaves a live but idle member: exit so a supervisor restarts it.
        enricher.done.catch((err: unknown) => {
          // Kafka refusing the group or the input topic is a setting to fix (2); any other stop, 1.
          process.exitCode = exitCodeOf(err, EXIT.ATTENTION);
          enricher.stop().finally(() => logger.flush());
        });
      }),
    );
}
