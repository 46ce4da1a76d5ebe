// Each role's ACLs as `cdr-pipeline acls` prints them: from the names the environment configures,
// one kafka-acls.sh command per kind of resource and set of operations.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { roleNames } from '../../src/cli/acls.ts';
import { aclCommands, kafkajsAcls, roleAcls } from '../../src/kafka/acls.ts';

describe('ACLs of the roles', () => {
  it('gives the producer its five topics, its transactional-id prefix, its read groups and idempotent writes', () => {
    const bindings = roleAcls(
      'producer',
      roleNames('producer', { TOPIC_RAW: 'p.raw', TRANSACTIONAL_ID_PREFIX: 'px' }),
    );
    const commands = aclCommands('User:p', bindings, 'k:9093');
    expect(commands).toEqual([
      "kafka-acls.sh --bootstrap-server k:9093 --command-config admin.properties --add --allow-principal 'User:p' --operation Create --operation Describe --operation DescribeConfigs --operation Write --operation Read --topic 'p.raw' --topic 'cdr.cursor' --topic 'cdr.control' --topic 'cdr.control.totals' --topic 'cdr.dlq' --resource-pattern-type literal",
      "kafka-acls.sh --bootstrap-server k:9093 --command-config admin.properties --add --allow-principal 'User:p' --operation Describe --operation Write --transactional-id 'px' --resource-pattern-type prefixed",
      "kafka-acls.sh --bootstrap-server k:9093 --command-config admin.properties --add --allow-principal 'User:p' --operation Read --group 'px-' --resource-pattern-type prefixed",
      "kafka-acls.sh --bootstrap-server k:9093 --command-config admin.properties --add --allow-principal 'User:p' --operation IdempotentWrite --cluster",
    ]);
    // The same bindings for kafkajs's createAcls: one entry per operation.
    expect(kafkajsAcls('User:p', bindings)).toHaveLength(5 * 5 + 2 + 1 + 1);
  });

  it('gives the enricher its category topics by prefix, and a routed category its own topic by name', () => {
    const dir = mkdtempSync(join(tmpdir(), 'acls-'));
    const routes = join(dir, 'routes.json');
    writeFileSync(routes, JSON.stringify({ international: 'intl.calls' }));
    const bindings = roleAcls('enricher', roleNames('enricher', { ENRICH_ROUTES_FILE: routes }));
    const topics = bindings
      .filter((b) => b.resource === 'topic')
      .map((b) => `${b.name} ${b.pattern} ${b.operations.join(',')}`);
    expect(topics).toEqual([
      'cdr.raw literal Describe,Read',
      'intl.calls literal Create,Describe,DescribeConfigs,Write',
      'cdr.dlq literal Create,Describe,DescribeConfigs,Write',
      'cdr.enriched. prefixed Create,Describe,DescribeConfigs,Write',
    ]);
    expect(bindings.find((b) => b.resource === 'group')).toMatchObject({
      name: 'cdr-enricher',
      pattern: 'literal',
    });
  });

  it('lets the tools read every topic and their throwaway groups, and write nothing', () => {
    const bindings = roleAcls('tools', roleNames('tools', {}));
    const ops = new Set(bindings.flatMap((b) => b.operations));
    expect([...ops].sort()).toEqual(['Describe', 'DescribeConfigs', 'Read']);
    expect(
      bindings.some((b) => b.resource === 'group' && b.name === 'cdr-' && b.pattern === 'prefixed'),
    ).toBe(true);
  });
});
