// The `cdr-pipeline` command line: one file per command (services: produce, enrich, recordings, simulate;
// operators: status, cursor, dlq, acls; billing teams: search, export, replay, reconcile), each turning
// its options into a typed request for the code that does the work and printing the result. How a
// command's exit code is decided: run.ts.
import { Command, CommanderError } from 'commander';
import type { Env } from '../config/env.ts';
import { registerAcls } from './acls.ts';
import { cliContext } from './context.ts';
import { registerCursor } from './cursor.ts';
import { registerDlq } from './dlq.ts';
import { registerEnrich } from './enrich.ts';
import { registerExport } from './export.ts';
import { registerProduce } from './produce.ts';
import { registerReconcile } from './reconcile.ts';
import { registerRecordings } from './recordings.ts';
import { registerReplay } from './replay.ts';
import { EXIT, failureLine } from './run.ts';
import { registerSearch } from './search.ts';
import { registerSimulate } from './simulate.ts';
import { registerStatus } from './status.ts';

export function cliProgram(env: Env): Command {
  const ctx = cliContext(env);
  const program = new Command('cdr-pipeline')
    .description('A carrier CDR billing feed as an exactly-once Kafka stream')
    .showHelpAfterError();
  for (const register of [
    registerProduce,
    registerEnrich,
    registerRecordings,
    registerSimulate,
    registerStatus,
    registerCursor,
    registerDlq,
    registerSearch,
    registerExport,
    registerReplay,
    registerReconcile,
    registerAcls,
  ])
    register(program, ctx);
  // Usage errors (a missing option, an unknown command) exit 2 like bad input; help exits 0.
  const overrideExits = (c: Command): void => {
    c.exitOverride();
    for (const sub of c.commands) overrideExits(sub);
  };
  overrideExits(program);
  return program;
}

/** Runs the command line; resolves when the command's action has (a service keeps running after). */
export async function runCli(argv: readonly string[], env: Env): Promise<void> {
  try {
    await cliProgram(env).parseAsync([...argv]);
  } catch (err) {
    if (err instanceof CommanderError) process.exitCode = err.exitCode === 0 ? EXIT.OK : EXIT.USAGE;
    else {
      // Every action sets its own exit code; this is a failure outside any of them.
      console.error(failureLine(argv[2] ?? '', err));
      process.exitCode = EXIT.ATTENTION;
    }
  }
}
