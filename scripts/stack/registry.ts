// Apicurio Registry 3.x with its default in-memory storage, the runnable archive Maven Central
// serves as io.apicurio:apicurio-registry-app (classifier `all`). Clients use its Confluent API.
import { execFileSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { APICURIO_VERSION, javaBin, LOCAL, mvn, PORTS, ROOT } from './paths.ts';
import { type Started, startDetached } from './processes.ts';

const HOME = `${LOCAL}/apicurio/${APICURIO_VERSION}`;
const RUNNER = `${HOME}/apicurio-registry-app-${APICURIO_VERSION}-runner.jar`;

export function registryRunner(): string {
  if (existsSync(RUNNER)) return RUNNER;
  const download = `${HOME}/download`;
  // dependency:copy resolves through the local Maven repository (~/.m2 by default, or whatever
  // maven.repo.local says) and puts a copy where we can find it without guessing that path.
  mvn([
    'dependency:copy',
    `-Dartifact=io.apicurio:apicurio-registry-app:${APICURIO_VERSION}:tar.gz:all`,
    `-DoutputDirectory=${download}`,
  ]);
  const archive = `${download}/apicurio-registry-app-${APICURIO_VERSION}-all.tar.gz`;
  execFileSync('tar', ['xzf', archive, '-C', HOME]);
  rmSync(download, { recursive: true, force: true });
  if (!existsSync(RUNNER)) throw new Error(`the Apicurio archive has no ${RUNNER}`);
  return RUNNER;
}

export function startRegistry(): Started {
  const runner = registryRunner();
  return startDetached(
    javaBin(),
    [
      '-Xmx512m',
      `-Dcdr.stack=${ROOT}/registry`,
      `-Dquarkus.http.port=${PORTS.registry}`,
      '-Dquarkus.http.host=127.0.0.1',
      // No telemetry or update checks: this machine reaches no network but loopback.
      '-Dquarkus.analytics.disabled=true',
      '-jar',
      runner,
    ],
    `${LOCAL}/apicurio/logs/registry.log`,
  );
}

export async function registryReady(url: string): Promise<boolean> {
  try {
    const res = await fetch(`${url}/subjects`, { signal: AbortSignal.timeout(2000) });
    await res.body?.cancel();
    return res.ok;
  } catch {
    return false;
  }
}
