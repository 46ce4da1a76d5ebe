// `cdr-pipeline acls <role>`: the ACLs a role needs on a cluster that allows nothing without one, as
// kafka-acls.sh commands (or JSON), with the names this environment configures (topics, group,
// transactional-id prefix). The same list the secured-listener tests apply (kafka/acls.ts).
import type { Command } from 'commander';
import { enricherEnvSchema, enricherRoutes } from '../config/enricher.ts';
import type { Env } from '../config/env.ts';
import { parseEnv } from '../config/env.ts';
import { producerEnvSchema } from '../config/producer.ts';
import { recordingsEnvSchema, recordingsToolEnvSchema } from '../config/recordings.ts';
import { toolsEnvSchema } from '../config/tools.ts';
import { aclCommands, ROLES, type Role, type RoleNames, roleAcls } from '../kafka/acls.ts';
import type { CliContext } from './context.ts';
import { badOption } from './options.ts';
import { print } from './print.ts';
import { toolAction } from './run.ts';

/** A role's names from the environment, with the services' defaults. */
export function roleNames(role: Role, env: Env): Partial<RoleNames> {
  if (role === 'producer') {
    const c = parseEnv(
      producerEnvSchema.pick({
        TOPIC_RAW: true,
        TOPIC_CURSOR: true,
        TOPIC_CONTROL: true,
        TOPIC_CONTROL_TOTALS: true,
        TOPIC_DLQ: true,
        TRANSACTIONAL_ID_PREFIX: true,
      }),
      env,
    );
    const topics = [c.TOPIC_RAW, c.TOPIC_CURSOR, c.TOPIC_CONTROL, c.TOPIC_CONTROL_TOTALS, c.TOPIC_DLQ];
    return { producer: { topics, transactionalIdPrefix: c.TRANSACTIONAL_ID_PREFIX } };
  }
  if (role === 'enricher') {
    const c = parseEnv(
      enricherEnvSchema.pick({
        TOPIC_RAW: true,
        TOPIC_DLQ: true,
        ENRICH_TOPIC_PREFIX: true,
        ENRICH_ROUTES_FILE: true,
        ENRICH_GROUP_ID: true,
        ENRICH_TRANSACTIONAL_ID_PREFIX: true,
      }),
      env,
    );
    const routed = Object.values(enricherRoutes(c)).filter((t) => !t.startsWith(c.ENRICH_TOPIC_PREFIX));
    return {
      stage: {
        input: c.TOPIC_RAW,
        outputs: [...new Set([...routed, c.TOPIC_DLQ])],
        outputPrefix: c.ENRICH_TOPIC_PREFIX,
        group: c.ENRICH_GROUP_ID,
        transactionalIdPrefix: c.ENRICH_TRANSACTIONAL_ID_PREFIX,
      },
    };
  }
  if (role === 'recordings') {
    const c = parseEnv(
      recordingsEnvSchema.pick({
        TOPIC_RAW: true,
        TOPIC_RECORDINGS: true,
        TOPIC_DLQ: true,
        RECORDINGS_GROUP_ID: true,
        RECORDINGS_TRANSACTIONAL_ID_PREFIX: true,
      }),
      env,
    );
    return {
      stage: {
        input: c.TOPIC_RAW,
        outputs: [c.TOPIC_RECORDINGS, c.TOPIC_DLQ],
        group: c.RECORDINGS_GROUP_ID,
        transactionalIdPrefix: c.RECORDINGS_TRANSACTIONAL_ID_PREFIX,
      },
    };
  }
  const c = parseEnv(
    toolsEnvSchema.pick({
      TOPIC_RAW: true,
      TOPIC_CURSOR: true,
      TOPIC_CONTROL: true,
      TOPIC_CONTROL_TOTALS: true,
      TOPIC_DLQ: true,
      TOPIC_REPLAY: true,
      ENRICH_GROUP_ID: true,
      ENRICH_TOPIC_PREFIX: true,
    }),
    env,
  );
  // The recordings topic's name and default, as the recordings tools read it.
  const recordings = parseEnv(recordingsToolEnvSchema.pick({ TOPIC_RECORDINGS: true }), env).TOPIC_RECORDINGS;
  return {
    tools: {
      topics: [
        c.TOPIC_RAW,
        c.TOPIC_CURSOR,
        c.TOPIC_CONTROL,
        c.TOPIC_CONTROL_TOTALS,
        c.TOPIC_DLQ,
        c.TOPIC_REPLAY,
        recordings,
      ],
      topicPrefixes: [c.ENRICH_TOPIC_PREFIX],
      groups: [c.ENRICH_GROUP_ID],
    },
  };
}

interface AclsFlags {
  principal?: string;
  bootstrapServer: string;
  json?: boolean;
}

export function registerAcls(program: Command, ctx: CliContext): void {
  program
    .command('acls')
    .description(
      `The ACLs a role needs where nothing is allowed without one, as kafka-acls.sh commands (roles: ${ROLES.join(', ')})`,
    )
    .argument('<role>', ROLES.join(' | '))
    .option('--principal <principal>', 'the principal to allow (default User:cdr-<role>)')
    .option('--bootstrap-server <host:port>', 'written into the commands', '$BOOTSTRAP')
    .option('--json', 'the bindings as JSON')
    .action(
      toolAction('acls', async (role: string, flags: AclsFlags) => {
        if (!(ROLES as readonly string[]).includes(role))
          badOption('<role>', `"${role}" is not one of ${ROLES.join(', ')}`);
        const bindings = roleAcls(role as Role, roleNames(role as Role, ctx.env));
        const principal = flags.principal ?? `User:cdr-${role}`;
        print(flags.json === true, { role, principal, bindings }, () =>
          aclCommands(principal, bindings, flags.bootstrapServer).join('\n'),
        );
      }),
    );
}
