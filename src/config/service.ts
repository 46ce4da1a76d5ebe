// Keys every long-running command shares: the schema registry, the health/metrics server,
// shutdown and logging. Spread into each command's schema; only HTTP_PORT's default differs.
import { z } from 'zod';
import { int } from './env.ts';

export function serviceEnvShape(defaultHttpPort: number) {
  return {
    SCHEMA_REGISTRY_URL: z
      .url()
      .describe('Confluent-compatible schema registry (Apicurio: …/apis/ccompat/v7)'),
    SCHEMA_REGISTRY_USERNAME: z.string().optional().describe('Registry basic-auth user'),
    SCHEMA_REGISTRY_PASSWORD: z.string().optional().describe('Registry basic-auth password'),
    SCHEMA_REGISTRY_PASSWORD_FILE: z.string().optional().describe('File holding the registry password'),
    HTTP_HOST: z.string().default('0.0.0.0').describe('Address of the health and metrics server'),
    HTTP_PORT: int(0, 65535)
      .default(defaultHttpPort)
      .describe('Port of /healthz, /readyz and /metrics (0: any free port)'),
    SHUTDOWN_TIMEOUT_MS: int(100)
      .default(20_000)
      .describe('Longest graceful stop before the process exits anyway'),
    LOG_LEVEL: z
      .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
      .default('info')
      .describe('pino level'),
  };
}
