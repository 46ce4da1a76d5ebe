// What every command is given: the environment (read only through config/) and the loggers and
// clients built from it, made when a command first asks for them.
import type { Kafka } from 'kafkajs';
import type { Logger } from 'pino';
import type { RegistryOptions } from '../codec/registry.ts';
import type { Env } from '../config/env.ts';
import { loadLogOptions } from '../config/service.ts';
import { loadToolsOptions, type ToolsOptions } from '../config/tools.ts';
import { checkKafkaAccess } from '../kafka/access.ts';
import { createKafka } from '../kafka/client.ts';
import { createLogger, logFormat, toolLogger } from '../ops/logger.ts';
import { routeProcessWarnings } from '../ops/warnings.ts';
import { badOption } from './options.ts';

export interface CliContext {
  env: Env;
  /** A service's logger: JSON lines (or pretty on a terminal) on stdout. */
  serviceLogger(): Logger;
  /**
   * An operator's command: its options and a Kafka client logging warnings on stderr, once Kafka
   * took its login and certificates (a refusal is CDR_KAFKA_ACCESS, exit 2, kafka/access.ts).
   */
  tool(): Promise<{ options: ToolsOptions; kafka: Kafka }>;
  /** The registry records are decoded with: refused (exit 2) when SCHEMA_REGISTRY_URL is not set. */
  registry(options: ToolsOptions): RegistryOptions;
}

export function cliContext(env: Env): CliContext {
  let service: Logger | undefined;
  return {
    env,
    serviceLogger() {
      if (service === undefined) {
        const log = loadLogOptions(env, 'info');
        service = createLogger({
          level: log.level,
          format: logFormat(log.format, process.stdout.isTTY === true),
        });
        routeProcessWarnings(service);
      }
      return service;
    },
    async tool() {
      const options = loadToolsOptions(env);
      const logger = toolLogger(loadLogOptions(env, 'warn'));
      routeProcessWarnings(logger);
      await checkKafkaAccess(options.kafka);
      return { options, kafka: createKafka(options.kafka, logger) };
    },
    registry(options) {
      return options.registry ?? badOption('SCHEMA_REGISTRY_URL', 'is required to decode records');
    },
  };
}
