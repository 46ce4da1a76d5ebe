// How a command ends. Its exit code comes from its outcome and from the error code of its failure,
// never from which command it was by name:
//
//   0  done (a service: stopped cleanly)
//   1  something needs attention: stale, differs, refused, a runtime failure
//   2  bad input: configuration or an option (the message names it)
//   3  a producer whose every account was taken over by another producer
//
// A service (produce, enrich, simulate) logs its failure as a JSON line; a command run by a person
// prints one readable line on stderr (stdout holds its output).
import { setFlagsFromString } from 'node:v8';
import type { Logger } from 'pino';
import { ErrorCodes, isCdrError } from '../errors.ts';
import { accessFailure } from '../kafka/access.ts';
import { createLogger } from '../ops/logger.ts';
import type { CliContext } from './context.ts';
import { READING_HEAP_FLAGS } from './heap.ts';

export const EXIT = { OK: 0, ATTENTION: 1, USAGE: 2, FENCED: 3 } as const;

/** The exit code of a failure; `otherwise` for a failure that is neither bad input nor a takeover. */
export function exitCodeOf(err: unknown, otherwise: number = EXIT.ATTENTION): number {
  if (isCdrError(err, ErrorCodes.CONFIG_INVALID) || isCdrError(err, ErrorCodes.KAFKA_ACCESS))
    return EXIT.USAGE;
  if (isCdrError(err, ErrorCodes.FENCED)) return EXIT.FENCED;
  if (isCdrError(err, ErrorCodes.REFUSED)) return EXIT.ATTENTION;
  return otherwise;
}

/** The one line a person reads about a failure: its message, and its cause's. */
export function failureLine(command: string, err: unknown): string {
  // A refusal's message already says what the broker answered; its cause is the TLS library's text.
  const cause = isCdrError(err, ErrorCodes.KAFKA_ACCESS)
    ? undefined
    : (err as { cause?: { message?: string } }).cause?.message;
  return `cdr-pipeline ${command}: ${(err as Error).message}${cause && !(err as Error).message.includes(cause) ? ` (${cause})` : ''}`;
}

/**
 * The action of a command run by a person: it resolves with its exit code (0 when it returns
 * nothing); a failure is one line on stderr and exit code `failed` (bad input 2, refused 1).
 */
export function toolAction<A extends unknown[]>(
  command: string,
  run: (...args: A) => Promise<unknown>,
  failed: number = EXIT.ATTENTION,
): (...args: A) => Promise<void> {
  return async (...args: A) => {
    // The reading commands stream records through a few MB at a time (heap.ts).
    setFlagsFromString(READING_HEAP_FLAGS);
    try {
      const code = await run(...args);
      process.exitCode = typeof code === 'number' ? code : EXIT.OK;
    } catch (caught) {
      // Kafka refusing the command (an ACL it lacks, say) is a setting to fix, said as such.
      const err = accessFailure(caught) ?? caught;
      process.exitCode = exitCodeOf(err, failed);
      console.error(failureLine(command, err));
    }
  };
}

/**
 * The action of a service: it gets the service logger; a failure to start is logged (fatal, with
 * its code) and sets the exit code.
 */
export function serviceAction(ctx: CliContext, run: (logger: Logger) => Promise<void>): () => Promise<void> {
  return async () => {
    let logger: Logger | undefined;
    try {
      logger = ctx.serviceLogger();
      await run(logger);
    } catch (err) {
      process.exitCode = exitCodeOf(err);
      // A bad LOG_LEVEL leaves no service logger: the default one says so.
      const log = logger ?? createLogger();
      // Bad settings are said in one line, without a stack.
      if (isCdrError(err, ErrorCodes.CONFIG_INVALID) || isCdrError(err, ErrorCodes.KAFKA_ACCESS))
        log.fatal({ code: err.code }, err.message);
      else log.fatal({ err }, err instanceof Error ? err.message : 'failed');
      log.flush();
    }
  };
}
