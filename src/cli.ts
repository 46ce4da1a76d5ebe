#!/usr/bin/env -S node --max-semi-space-size=8
// The `cdr-pipeline` command: the command line is cli/program.ts, one file per command in cli/.
import { runCli } from './cli/program.ts';

await runCli(process.argv, process.env);
