// Writes docs/configuration.md from the config schemas (the single source of every key, its
// description and its default): `node scripts/config-docs.ts`. test/unit/config.test.ts fails when
// the page is not what the schemas say.
import { writeFileSync } from 'node:fs';
import { enricherEnvSchema } from '../src/config/enricher.ts';
import { describeSchema } from '../src/config/env.ts';
import { kafkaEnvSchema } from '../src/config/kafka.ts';
import { producerEnvSchema } from '../src/config/producer.ts';
import { recordingsEnvSchema, recordingsToolEnvSchema } from '../src/config/recordings.ts';
import { simulatorEnvSchema } from '../src/config/simulator.ts';
import { toolsEnvSchema } from '../src/config/tools.ts';

const sections = [
  ['Producer (`cdr-pipeline produce`)', producerEnvSchema],
  ['Enricher (`cdr-pipeline enrich`)', enricherEnvSchema],
  ['Recordings stage (`cdr-pipeline recordings`)', recordingsEnvSchema],
  [
    'Recordings commands (`recordings get`, `recordings status`, `reconcile --recordings`)',
    recordingsToolEnvSchema,
  ],
  [
    "Operators' and billing teams' commands (status, cursor, dlq, search, export, replay, reconcile)",
    toolsEnvSchema,
  ],
  ['Kafka connection (every command that talks to Kafka)', kafkaEnvSchema],
  ['Feed simulator (`cdr-pipeline simulate`)', simulatorEnvSchema],
] as const;

const INTRO =
  '# Configuration\n\nRead once at start from the environment and validated (zod); a missing or malformed value stops\nthe process with exit code 2 and a message naming the variable, e.g.\n`invalid configuration: FEED_URL: is required and not set`. Secrets can be files (`*_FILE`), for mounted\nKubernetes secrets. Several feed accounts run in one process with `FEED_ACCOUNTS_FILE`, a JSON list\nof `{"login": "...", "password": "..."}` or `{"login": "...", "passwordFile": "/path"}`; each account\nhas its own poll loop and cursor, and the accounts share the `PRODUCER_POOL_SIZE` transactional\nproducers ([docs/producer.md](producer.md#many-accounts-the-producer-pool)). This page is generated from the schemas in `src/config/`\n(`node scripts/config-docs.ts` writes it; a test fails when it is not what the schemas say).\n';

export const CONFIGURATION_DOC = new URL('../docs/configuration.md', import.meta.url);

/** The page: the introduction, then a table per command of every variable, its default and meaning. */
export function configurationDoc(): string {
  const out = [INTRO];
  for (const [title, schema] of sections) {
    out.push(`## ${title}\n`, '| variable | default | meaning |\n| --- | --- | --- |');
    for (const [key, description, def] of describeSchema(schema)) {
      const shown = def.length > 60 ? '(see src/config)' : def;
      const value = shown === '(required)' ? '**required**' : shown === '(unset)' ? 'unset' : `\`${shown}\``;
      out.push(`| \`${key}\` | ${value} | ${description.replaceAll('|', '\\|')} |`);
    }
    out.push('');
  }
  return `${out.join('\n').trimEnd()}\n`;
}

if (import.meta.url === `file://${process.argv[1]}`) writeFileSync(CONFIGURATION_DOC, configurationDoc());
