import type { Kafka } from 'kafkajs';
import { type RegistryOptions, registryGet } from '../codec/registry.ts';

// Is a dependency reachable? Checked on demand for /readyz, at most once per `ttlMs`, so a probe
// storm does not become a load on Kafka or the registry.
export interface Reachability {
  check(): Promise<boolean>;
}

export function cachedCheck(probe: () => Promise<unknown>, ttlMs = 10_000, timeoutMs = 5000): Reachability {
  let last: { at: number; ok: boolean } | undefined;
  let running: Promise<boolean> | undefined;
  return {
    check() {
      if (last && Date.now() - last.at < ttlMs) return Promise.resolve(last.ok);
      running ??= Promise.race([
        probe().then(() => true),
        new Promise<boolean>((resolve) => setTimeout(() => resolve(false), timeoutMs).unref()),
      ])
        .catch(() => false)
        .then((ok) => {
          last = { at: Date.now(), ok };
          running = undefined;
          return ok;
        });
      return running;
    },
  };
}

/**
 * The two dependencies every readiness check needs: Kafka (a short-lived admin client asks for
 * the cluster) and the schema registry. Each is probed at most once per ttl.
 */
export function dependencyChecks(
  kafka: Kafka,
  registry: RegistryOptions,
): { check(): Promise<{ kafka: boolean; registry: boolean }> } {
  const kafkaReachable = cachedCheck(async () => {
    const admin = kafka.admin();
    await admin.connect();
    try {
      await admin.describeCluster();
    } finally {
      await admin.disconnect();
    }
  });
  const registryReachable = cachedCheck(() => probeRegistry(registry));
  return {
    check: async () => {
      const [kafkaOk, registryOk] = await Promise.all([kafkaReachable.check(), registryReachable.check()]);
      return { kafka: kafkaOk, registry: registryOk };
    },
  };
}

/** GET {url}/subjects with the registry's credentials and CA, as its client would send them. */
export async function probeRegistry(registry: RegistryOptions): Promise<void> {
  const res = await registryGet(registry, '/subjects', 5000);
  await res.body?.cancel();
  if (!res.ok) throw new Error(`registry answered ${res.status}`);
}
