// What each role of the pipeline needs from a cluster that allows nothing without an ACL: its
// topics by name, its consumer groups, its transactional-id prefix, idempotent writes. One list,
// printed as kafka-acls.sh commands by `cdr-pipeline acls` (docs/security.md) and applied by the
// tests of the secured listeners, so the documented ACLs are the ones proven enough.
import kafkajs from 'kafkajs';

// kafkajs is CommonJS: its enums are properties of the module, not named exports.
const { AclOperationTypes, AclPermissionTypes, AclResourceTypes, ResourcePatternTypes } = kafkajs;

export const ROLES = ['producer', 'enricher', 'recordings', 'tools'] as const;
export type Role = (typeof ROLES)[number];

export type AclOperation = 'Read' | 'Write' | 'Create' | 'Describe' | 'DescribeConfigs' | 'IdempotentWrite';

export interface AclBinding {
  resource: 'topic' | 'group' | 'transactional-id' | 'cluster';
  /** A name, or the start of names (prefixed); unused for the cluster. */
  name: string;
  pattern: 'literal' | 'prefixed';
  operations: readonly AclOperation[];
}

/** The names a role's ACLs are made of: its configuration's topics, groups and prefixes. */
export interface RoleNames {
  producer: {
    topics: readonly string[];
    transactionalIdPrefix: string;
  };
  /** The enricher and the recordings stage: a consumer group that writes transactionally. */
  stage: {
    input: string;
    /** Topics it creates and writes (its outputs and the dead letters). */
    outputs: readonly string[];
    /** Outputs named by a prefix (the enricher's category topics). */
    outputPrefix?: string;
    group: string;
    transactionalIdPrefix: string;
  };
  tools: {
    /** Every topic the tools read. */
    topics: readonly string[];
    /** Topics whose names start with these (the enriched topics). */
    topicPrefixes: readonly string[];
    /** The groups `status` describes and `replay reset-group` moves. */
    groups: readonly string[];
  };
}

const CREATE_AND_WRITE: readonly AclOperation[] = ['Create', 'Describe', 'DescribeConfigs', 'Write'];
const READ: readonly AclOperation[] = ['Describe', 'Read'];

const topic = (
  name: string,
  operations: readonly AclOperation[],
  pattern: 'literal' | 'prefixed' = 'literal',
) => ({ resource: 'topic', name, pattern, operations }) as const;
const idempotent: AclBinding = {
  resource: 'cluster',
  name: 'kafka-cluster',
  pattern: 'literal',
  operations: ['IdempotentWrite'],
};

/**
 * The producer reads its own topics back (cursors, control totals, the tail of cdr.raw) through
 * throwaway consumer groups named after its transactional-id prefix.
 */
function producerAcls(n: RoleNames['producer']): AclBinding[] {
  return [
    ...n.topics.map((t) => topic(t, [...CREATE_AND_WRITE, 'Read'])),
    {
      resource: 'transactional-id',
      name: n.transactionalIdPrefix,
      pattern: 'prefixed',
      operations: ['Describe', 'Write'],
    },
    { resource: 'group', name: `${n.transactionalIdPrefix}-`, pattern: 'prefixed', operations: ['Read'] },
    idempotent,
  ];
}

function stageAcls(n: RoleNames['stage']): AclBinding[] {
  return [
    topic(n.input, READ),
    ...n.outputs.map((t) => topic(t, CREATE_AND_WRITE)),
    ...(n.outputPrefix === undefined ? [] : [topic(n.outputPrefix, CREATE_AND_WRITE, 'prefixed')]),
    { resource: 'group', name: n.group, pattern: 'literal', operations: READ },
    {
      resource: 'transactional-id',
      name: n.transactionalIdPrefix,
      pattern: 'prefixed',
      operations: ['Describe', 'Write'],
    },
    idempotent,
  ];
}

/** The reading tools: their topics, their throwaway groups (cdr-scan-..., cdr-export-...), the services' groups. */
function toolsAcls(n: RoleNames['tools']): AclBinding[] {
  return [
    ...n.topics.map((t) => topic(t, [...READ, 'DescribeConfigs'])),
    ...n.topicPrefixes.map((p) => topic(p, [...READ, 'DescribeConfigs'], 'prefixed')),
    { resource: 'group', name: 'cdr-', pattern: 'prefixed', operations: READ },
    ...n.groups.map((g) => ({ resource: 'group', name: g, pattern: 'literal', operations: READ }) as const),
  ];
}

export function roleAcls(role: Role, names: Partial<RoleNames>): AclBinding[] {
  const need = <K extends keyof RoleNames>(k: K): RoleNames[K] => {
    const v = names[k];
    if (v === undefined) throw new Error(`the ${role} role's ACLs need its ${k} names`);
    return v;
  };
  if (role === 'producer') return producerAcls(need('producer'));
  if (role === 'tools') return toolsAcls(need('tools'));
  return stageAcls(need('stage'));
}

const RESOURCE_FLAG: Record<AclBinding['resource'], string> = {
  topic: '--topic',
  group: '--group',
  'transactional-id': '--transactional-id',
  cluster: '--cluster',
};

/**
 * kafka-acls.sh commands for a principal such as User:cdr-producer: one per kind of resource,
 * pattern and set of operations (the tool takes several --topic or --group at once).
 */
export function aclCommands(principal: string, bindings: readonly AclBinding[], bootstrap: string): string[] {
  const groups = new Map<string, AclBinding[]>();
  for (const b of bindings) {
    const key = `${b.resource}|${b.pattern}|${b.operations.join(',')}`;
    groups.set(key, [...(groups.get(key) ?? []), b]);
  }
  return [...groups.values()].map((same) => {
    const first = same[0] as AclBinding;
    const resources =
      first.resource === 'cluster'
        ? '--cluster'
        : `${same.map((b) => `${RESOURCE_FLAG[b.resource]} '${b.name}'`).join(' ')} --resource-pattern-type ${first.pattern}`;
    const ops = first.operations.map((o) => `--operation ${o}`).join(' ');
    return `kafka-acls.sh --bootstrap-server ${bootstrap} --command-config admin.properties --add --allow-principal '${principal}' ${ops} ${resources}`;
  });
}

const KAFKAJS_RESOURCE = {
  topic: AclResourceTypes.TOPIC,
  group: AclResourceTypes.GROUP,
  'transactional-id': AclResourceTypes.TRANSACTIONAL_ID,
  cluster: AclResourceTypes.CLUSTER,
} as const;
const KAFKAJS_OPERATION: Record<AclOperation, kafkajs.AclOperationTypes> = {
  Read: AclOperationTypes.READ,
  Write: AclOperationTypes.WRITE,
  Create: AclOperationTypes.CREATE,
  Describe: AclOperationTypes.DESCRIBE,
  DescribeConfigs: AclOperationTypes.DESCRIBE_CONFIGS,
  IdempotentWrite: AclOperationTypes.IDEMPOTENT_WRITE,
};

/** The same bindings as kafkajs's createAcls entries (how the tests apply them). */
export function kafkajsAcls(principal: string, bindings: readonly AclBinding[]) {
  return bindings.flatMap((b) =>
    b.operations.map((operation) => ({
      resourceType: KAFKAJS_RESOURCE[b.resource],
      resourceName: b.name,
      resourcePatternType:
        b.pattern === 'literal' ? ResourcePatternTypes.LITERAL : ResourcePatternTypes.PREFIXED,
      principal,
      host: '*',
      operation: KAFKAJS_OPERATION[operation],
      permissionType: AclPermissionTypes.ALLOW,
    })),
  );
}
