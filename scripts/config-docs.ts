// Prints the configuration tables of the README from the config schemas (the single source of
// every key, its description and its default). test/unit/config.test.ts checks the README has them.
import { enricherEnvSchema } from '../src/config/enricher.ts';
import { describeSchema } from '../src/config/env.ts';
import { kafkaEnvSchema } from '../src/config/kafka.ts';
import { producerEnvSchema } from '../src/config/producer.ts';
import { simulatorEnvSchema } from '../src/config/simulator.ts';

const sections = [
  ['Producer (`cdr-pipeline produce`)', producerEnvSchema],
  ['Enricher (`cdr-pipeline enrich`)', enricherEnvSchema],
  ['Kafka connection (every command that talks to Kafka)', kafkaEnvSchema],
  ['Feed simulator (`cdr-pipeline simulate`)', simulatorEnvSchema],
] as const;

for (const [title, schema] of sections) {
  console.log(`#### ${title}\n`);
  console.log('| variable | default | meaning |\n| --- | --- | --- |');
  for (const [key, description, def] of describeSchema(schema)) {
    const shown = def.length > 60 ? '(see src/config)' : def;
    const value = shown === '(required)' ? '**required**' : shown === '(unset)' ? 'unset' : `\`${shown}\``;
    console.log(`| \`${key}\` | ${value} | ${description.replaceAll('|', '\\|')} |`);
  }
  console.log('');
}
