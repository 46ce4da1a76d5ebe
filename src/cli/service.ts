// What the long-running commands share: a graceful stop on SIGTERM or SIGINT, bounded in time,
// and an exit once everything is closed.
import type { Logger } from 'pino';
import { EXIT } from './run.ts';

/** How long a stopped service waits for its last timers and sockets before it leaves anyway. */
const EXIT_GRACE_MS = 2000;

/** Stops with `stop` on SIGTERM or SIGINT; exits 1 if that takes longer than `timeoutMs`. */
export function onStop(logger: Logger, stop: () => Promise<void>, timeoutMs: number): void {
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
      process.exit(EXIT.ATTENTION);
    }, timeoutMs).unref();
    stop().then(
      () => {
        logger.info('stopped');
        logger.flush();
        process.exitCode = process.exitCode ?? EXIT.OK;
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
        process.exitCode = EXIT.ATTENTION;
      },
    );
  };
  process.on('SIGTERM', handler);
  process.on('SIGINT', handler);
}
