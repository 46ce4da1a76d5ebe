import type { Logger } from 'pino';
import { Registry } from 'prom-client';
import { PhoneNumbers } from '../cdr/phone.ts';
import { avroType } from '../codec/index.ts';
import { RawDecoder } from '../codec/raw-decoder.ts';
import { encodeValue, HEADER_BYTES, MAGIC_BYTE } from '../codec/wire.ts';
import type { EnricherOptions } from '../config/enricher.ts';
import { checkKafkaAccess } from '../kafka/access.ts';
import { createKafka } from '../kafka/client.ts';
import { startTransformGroup } from '../kafka/group-consumer.ts';
import { type OpsServer, startOpsServer } from '../ops/http-server.ts';
import { dependencyChecks } from '../ops/reachability.ts';
import { enrichBatch } from './batch.ts';
import { enricherMetrics } from './metrics.ts';
import { EnrichedSplicer } from './splice.ts';
import { type EnricherOutputs, prepareOutputs } from './start-up.ts';
import type { SliceDeps } from './transform.ts';

export interface RunningEnricher {
  ops: OpsServer;
  /** Rejects when the consumer stopped for good (CDR_CONSUMER_STOPPED). */
  done: Promise<void>;
  stop(): Promise<void>;
}

export async function startEnricher(options: EnricherOptions, logger: Logger): Promise<RunningEnricher> {
  const log = logger.child({ component: 'enricher' });
  // A refused login, certificate or TLS setting is said at once, in one line (exit 2).
  await checkKafkaAccess(options.kafka);
  const kafka = createKafka(options.kafka, logger);
  const metricsRegistry = new Registry();
  const metrics = enricherMetrics(metricsRegistry);
  const outputs = await prepareOutputs(kafka, options, log);
  const decoder = new RawDecoder(avroType('cdr-raw'), options.registry);
  const slice = sliceDeps(options, outputs, decoder);
  const group = await startTransformGroup(
    kafka,
    options,
    () => [...outputs.topics, options.dlqTopic],
    metrics,
    log,
    (owners) => {
      const deps = {
        owners,
        prepare: (values: ReadonlyArray<Buffer | null>) => decoder.prepare(values),
        slice,
        groupId: options.groupId,
        metrics,
        log,
      };
      return (payload) => enrichBatch(deps, payload);
    },
  );
  const dependencies = dependencyChecks(kafka, options.registry);
  let stopping = false;
  const ops = await startOpsServer({
    ...options.service.http,
    registry: metricsRegistry,
    live: () => ({
      ok: group.stopped() === undefined,
      details: group.stopped() ? { error: group.stopped()?.code } : {},
    }),
    ready: async () => {
      const { kafka: kafkaOk, registry: registryOk } = await dependencies.check();
      const joined = group.joined();
      const kafkaRefused = group.owners.refusal ?? null;
      return {
        ok: !stopping && group.stopped() === undefined && joined && kafkaOk && registryOk && !kafkaRefused,
        details: { joined, kafka: kafkaOk, registry: registryOk, kafkaRefused },
      };
    },
  });
  log.info(
    { port: ops.port, group: options.groupId, input: options.inputTopic, outputs: options.routes },
    'enricher started',
  );
  return {
    ops,
    done: group.done,
    stop: async () => {
      stopping = true;
      await group.stop();
      await ops.close();
    },
  };
}

/** How a slice's records become output: spliced from the raw bytes where the schema allows, else decoded. */
function sliceDeps(options: EnricherOptions, outputs: EnricherOutputs, decoder: RawDecoder): SliceDeps {
  const enrichedType = avroType('cdr-enriched');
  const phones = new PhoneNumbers(options.country);
  const splicer = new EnrichedSplicer(outputs.schemaId, phones);
  return {
    phones,
    decode: (value: Buffer | null) => decoder.decode(value),
    encode: (value: object) => encodeValue(enrichedType, outputs.schemaId, value),
    // Records of the current cdr-raw schema (all but those of older producers) skip decoding.
    splice: (value, source, now) =>
      value !== null &&
      value.length > HEADER_BYTES &&
      value[0] === MAGIC_BYTE &&
      decoder.writtenWithReader(value.readInt32BE(1))
        ? splicer.splice(value, source, now)
        : undefined,
    routes: options.routes,
    partitionOf: (topic, key) => outputs.partitions.of(topic, key),
    dlqTopic: options.dlqTopic,
  };
}
