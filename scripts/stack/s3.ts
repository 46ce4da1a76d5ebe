// A real S3 server for the recordings: s3proxy (org.gaul:s3proxy, the jar with its dependencies
// from Maven Central; 3.0.0 is the newest line built for Java 17) with its filesystem backend under
// .local/s3proxy/data. Path-style addressing, fixed local credentials (S3_LOCAL_CREDENTIALS).
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { javaBin, LOCAL, mvn, PORTS, ROOT, S3PROXY_VERSION } from './paths.ts';
import { type Started, startDetached } from './processes.ts';

const HOME = `${LOCAL}/s3proxy`;
const JAR = `${HOME}/${S3PROXY_VERSION}/s3proxy-${S3PROXY_VERSION}-jar-with-dependencies.jar`;

/** The local server's credentials: not a secret (loopback only, a throwaway folder). */
export const S3_LOCAL_CREDENTIALS = { accessKeyId: 'local-identity', secretAccessKey: 'local-credential' };

export function s3proxyJar(): string {
  if (existsSync(JAR)) return JAR;
  const download = `${HOME}/${S3PROXY_VERSION}`;
  mvn([
    'dependency:copy',
    `-Dartifact=org.gaul:s3proxy:${S3PROXY_VERSION}:jar:jar-with-dependencies`,
    `-DoutputDirectory=${download}`,
  ]);
  if (!existsSync(JAR)) throw new Error(`Maven did not leave ${JAR}`);
  return JAR;
}

export function startS3(): Started {
  const jar = s3proxyJar();
  const data = `${HOME}/data`;
  mkdirSync(data, { recursive: true });
  const conf = `${HOME}/s3proxy.conf`;
  writeFileSync(
    conf,
    [
      `s3proxy.endpoint=http://127.0.0.1:${PORTS.s3}`,
      's3proxy.authorization=aws-v2-or-v4',
      `s3proxy.identity=${S3_LOCAL_CREDENTIALS.accessKeyId}`,
      `s3proxy.credential=${S3_LOCAL_CREDENTIALS.secretAccessKey}`,
      'jclouds.provider=filesystem-nio2',
      `jclouds.filesystem.basedir=${data}`,
      '',
    ].join('\n'),
  );
  return startDetached(
    javaBin(),
    ['-Xmx256m', `-Dcdr.stack=${ROOT}/s3`, '-jar', jar, '--properties', conf],
    `${HOME}/logs/s3proxy.log`,
  );
}

/** Forgets every stored object (the tests' own buckets live in the same folder). */
export function wipeS3Data(): void {
  rmSync(`${HOME}/data`, { recursive: true, force: true });
}

export async function s3Ready(url: string): Promise<boolean> {
  try {
    // Anonymous: s3proxy answers 403 once it is up.
    const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
    await res.body?.cancel();
    return res.status === 403 || res.ok;
  } catch {
    return false;
  }
}
