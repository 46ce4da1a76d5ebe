// `cdr-pipeline recordings`: the recordings stage (a service), and what billing teams ask of it:
// `recordings get <id>` (the file, or a presigned URL) and `recordings status`.
import { createWriteStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import type { Command } from 'commander';
import type { CliContext } from './context.ts';
import { badOption, durationOption } from './options.ts';
import { print } from './print.ts';
import { EXIT, serviceAction, toolAction } from './run.ts';
import { onStop } from './service.ts';

interface GetFlags {
  account?: string;
  out?: string;
  expires?: string;
  json?: boolean;
}

export function registerRecordings(program: Command, ctx: CliContext): void {
  const recordings = program
    .command('recordings')
    .description(
      'Store the call recording of every CDR that names one in object storage, exactly once (the service); get one; status',
    );
  recordings
    .command('run', { isDefault: true })
    .description(
      'The recordings stage: fetch each recording from the carrier, store it, publish its reference to cdr.recordings',
    )
    .action(
      serviceAction(ctx, async (logger) => {
        const { loadRecordingsOptions } = await import('../config/recordings.ts');
        const { startRecordings } = await import('../recordings/index.ts');
        const options = loadRecordingsOptions(ctx.env);
        const stage = await startRecordings(options, logger);
        onStop(logger, () => stage.stop(), options.service.shutdownTimeoutMs);
        stage.done.catch(() => {
          process.exitCode = EXIT.ATTENTION;
          stage.stop().finally(() => logger.flush());
        });
      }),
    );
  recordings
    .command('get <id>')
    .description('The recording of one CDR: written to --out, or a presigned URL (default) that expires')
    .option('--account <login>', "the CDR's account (when ids repeat across accounts)")
    .option('--out <file>', 'write the recording to this file')
    .option('--expires <duration>', 'how long the presigned URL works (default 15m, at most 7d)')
    .option('--json', 'JSON for scripts')
    .action(
      toolAction('recordings get', async (id: string, flags: GetFlags) => {
        if (!/^\d{1,19}$/.test(id)) badOption('<id>', `"${id}" is not a CDR id`);
        const expiresMs = durationOption('--expires', flags.expires) ?? 15 * 60_000;
        if (expiresMs > 7 * 24 * 3600_000) badOption('--expires', 'is at most 7d');
        const { tools, kafka } = await recordingsTool(ctx);
        const { readReferences } = await import('../tools/recordings/index.ts');
        const { ObjectStore } = await import('../recordings/store.ts');
        const found = await readReferences(kafka, tools.topics.recordings, tools.registry, {
          id,
          ...(flags.account === undefined ? {} : { account: flags.account }),
        });
        if (found.length === 0) {
          console.error(`cdr-pipeline recordings get: no recording is stored for CDR ${id}`);
          return EXIT.ATTENTION;
        }
        if (found.length > 1 && new Set(found.map((r) => r.account)).size > 1)
          badOption(
            '--account',
            `CDR ${id} exists in accounts ${[...new Set(found.map((r) => r.account))].join(', ')}: name one`,
          );
        const ref = found[0] as (typeof found)[number];
        const store = new ObjectStore({ ...tools.store, bucket: ref.bucket });
        try {
          if (flags.out !== undefined) {
            await pipeline(await store.read(ref.key), createWriteStream(flags.out));
            print(
              flags.json === true,
              { ...ref, file: flags.out },
              () => `${flags.out}: ${ref.size} bytes, sha256 ${ref.sha256}`,
            );
            return EXIT.OK;
          }
          const url = await store.presign(ref.key, Math.round(expiresMs / 1000));
          const expiresAt = new Date(Date.now() + expiresMs).toISOString();
          print(flags.json === true, { ...ref, url, expiresAt }, () => `${url}\n(expires ${expiresAt})`);
          return EXIT.OK;
        } finally {
          store.close();
        }
      }),
    );
  recordings
    .command('status')
    .description('How far the recordings stage has come: fetched, failed, pending, bytes, oldest pending')
    .option('--json', 'JSON for scripts')
    .action(
      toolAction('recordings status', async (flags: { json?: boolean }) => {
        const { tools, kafka } = await recordingsTool(ctx);
        const { formatRecordingsStatus, recordingsStatus } = await import('../tools/recordings/index.ts');
        const status = await recordingsStatus(kafka, tools.topics, tools.registry);
        print(flags.json === true, status, () => formatRecordingsStatus(status));
        return status.duplicateReferences > 0 ? EXIT.ATTENTION : EXIT.OK;
      }),
    );
}

async function recordingsTool(ctx: CliContext) {
  const { loadRecordingsToolOptions } = await import('../config/recordings.ts');
  const tools = loadRecordingsToolOptions(ctx.env);
  return { tools, kafka: (await ctx.tool()).kafka };
}
