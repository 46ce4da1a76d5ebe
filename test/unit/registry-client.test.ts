// The schema registry as secured registries serve it: HTTPS with a private CA, and a bearer token
// (or basic auth). A real HTTPS server on loopback answers as a Confluent-compatible registry
// would; the real registry client and the readiness probe talk to it with the configuration's
// settings. Certificates are made with openssl for the run.
import { once } from 'node:events';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fetchSchemaText, registerSchema, registryClient } from '../../src/codec/registry.ts';
import { loadToolsOptions } from '../../src/config/tools.ts';
import { probeRegistry } from '../../src/ops/reachability.ts';
import { makeCerts } from '../helpers/carrier-front.ts';

const certs = makeCerts();
const seen: Array<{ method: string; url: string; authorization: string | undefined }> = [];
const server = createServer(
  { cert: readFileSync(certs.serverCert), key: readFileSync(certs.serverKey) },
  (req, res) => {
    seen.push({ method: req.method ?? '', url: req.url ?? '', authorization: req.headers.authorization });
    req.resume();
    res.setHeader('content-type', 'application/vnd.schemaregistry.v1+json');
    if (req.headers.authorization !== 'Bearer token-1' && req.headers.authorization !== 'Bearer token-2') {
      res.writeHead(401);
      res.end('{"error_code":401,"message":"unauthorized"}');
      return;
    }
    if (req.url?.startsWith('/config')) res.end('{"compatibilityLevel":"BACKWARD"}');
    else if (req.method === 'POST') res.end('{"id":42}');
    else if (req.url === '/schemas/ids/42') res.end(JSON.stringify({ schema: '{"type":"string"}' }));
    else res.end('[]');
  },
);
let url = '';

beforeAll(async () => {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise((resolve) => server.close(resolve)));

describe('a registry over TLS with a private CA and a bearer token', () => {
  it('registers and probes with the CA and the token from files; refuses without the CA; a wrong token is a 401', async () => {
    const tokenPath = join(certs.dir, 'registry-token');
    writeFileSync(tokenPath, 'token-1\n');
    const env = {
      KAFKA_BROKERS: 'k:9092',
      SCHEMA_REGISTRY_URL: url,
      SCHEMA_REGISTRY_CA_FILE: certs.ca,
      SCHEMA_REGISTRY_TOKEN_FILE: tokenPath,
    };
    const registry = loadToolsOptions(env).registry;
    expect(registry?.ca).toContain('BEGIN CERTIFICATE');
    expect(
      await registerSchema(registryClient(registry as NonNullable<typeof registry>), 'cdr-raw', 'x-value'),
    ).toBe(42);
    await probeRegistry(registry as NonNullable<typeof registry>);
    // Writer schemas, as the decoders fetch them: the same CA and token.
    expect(await fetchSchemaText(registry as NonNullable<typeof registry>, 42)).toBe('{"type":"string"}');
    expect(seen.length).toBeGreaterThanOrEqual(2);
    expect(seen.every((r) => r.authorization === 'Bearer token-1')).toBe(true);

    // Without the private CA the certificate is not trusted.
    const untrusted = loadToolsOptions({ ...env, SCHEMA_REGISTRY_CA_FILE: certs.otherCa }).registry;
    await expect(probeRegistry(untrusted as NonNullable<typeof untrusted>)).rejects.toThrow();
    // A token the registry does not know: its 401, named.
    writeFileSync(tokenPath, 'stale');
    const stale = loadToolsOptions(env).registry;
    await expect(probeRegistry(stale as NonNullable<typeof stale>)).rejects.toThrow(/401/);
  });

  it('refuses at start a missing token file, an empty one, and a token beside a basic-auth user', () => {
    const base = { KAFKA_BROKERS: 'k:9092', SCHEMA_REGISTRY_URL: 'https://r' };
    expect(() => loadToolsOptions({ ...base, SCHEMA_REGISTRY_TOKEN_FILE: join(certs.dir, 'none') })).toThrow(
      /SCHEMA_REGISTRY_TOKEN_FILE: cannot be read/,
    );
    writeFileSync(join(certs.dir, 'empty'), '\n');
    expect(() => loadToolsOptions({ ...base, SCHEMA_REGISTRY_TOKEN_FILE: join(certs.dir, 'empty') })).toThrow(
      /SCHEMA_REGISTRY_TOKEN_FILE: is empty/,
    );
    writeFileSync(join(certs.dir, 't'), 'x');
    expect(() =>
      loadToolsOptions({
        ...base,
        SCHEMA_REGISTRY_TOKEN_FILE: join(certs.dir, 't'),
        SCHEMA_REGISTRY_USERNAME: 'u',
      }),
    ).toThrow(/SCHEMA_REGISTRY_TOKEN_FILE: set either/);
    expect(() => loadToolsOptions({ ...base, SCHEMA_REGISTRY_CA_FILE: join(certs.dir, 't') })).toThrow(
      /SCHEMA_REGISTRY_CA_FILE: is not a PEM file/,
    );
  });
});
