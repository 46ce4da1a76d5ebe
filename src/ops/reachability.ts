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

/** GET {registryUrl}/subjects with basic auth when configured. */
export async function probeRegistry(url: string, username?: string, password?: string): Promise<void> {
  const headers: Record<string, string> = {};
  if (username !== undefined)
    headers.authorization = `Basic ${Buffer.from(`${username}:${password ?? ''}`).toString('base64')}`;
  const res = await fetch(`${url.replace(/\/$/, '')}/subjects`, {
    headers,
    signal: AbortSignal.timeout(5000),
  });
  await res.body?.cancel();
  if (!res.ok) throw new Error(`registry answered ${res.status}`);
}
