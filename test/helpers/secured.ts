// Clients of the broker's secured listeners (scripts/stack/kafka.ts): SCRAM-SHA-512 over TLS and
// mutual TLS, as the users of scripts/stack/tls.ts, and each role's ACLs granted from the same code
// `cdr-pipeline acls` prints (revoked after the test).
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import { ADDRESSES } from '../../scripts/stack/paths.ts';
import { SECURED_USERS, type SecuredUser, scramClient, TLS } from '../../scripts/stack/tls.ts';
import { roleNames } from '../../src/cli/acls.ts';
import { kafkajsAcls, type Role, roleAcls } from '../../src/kafka/acls.ts';
import { testKafka } from './kafka.ts';

const dir = mkdtempSync(join(tmpdir(), 'cdr-secured-'));
export const PASSWORDS: readonly string[] = Object.values(SECURED_USERS);

function passwordFile(password: string): string {
  const file = join(dir, `pw-${Math.random().toString(36).slice(2)}`);
  writeFileSync(file, `${password}\n`);
  return file;
}

/** A client of the SASL_SSL listener: SCRAM-SHA-512 as `user`, trusting the local CA. */
export function scram(
  user: string,
  password: string = SECURED_USERS[user as SecuredUser] ?? 'x',
): Record<string, string> {
  return scramClient(user, passwordFile(password));
}

/** A client of the mutual-TLS listener with `user`'s certificate. */
export function mtls(user: SecuredUser): Record<string, string> {
  const pair = TLS.client(user);
  return {
    KAFKA_BROKERS: ADDRESSES.singleMtls,
    KAFKA_SSL: 'true',
    KAFKA_SSL_CA_FILE: TLS.ca,
    KAFKA_SSL_CERT_FILE: pair.cert,
    KAFKA_SSL_KEY_FILE: pair.key,
  };
}

type Acl = ReturnType<typeof kafkajsAcls>[number];

export function securedHelpers(cleanups: Array<() => Promise<unknown>>) {
  return {
    /** Grants `role`'s ACLs, for the names `env` configures, to User:cdr-<role> (all but `except`'s). */
    async grant(role: Role, env: Record<string, string>, except?: (acl: Acl) => boolean) {
      const all = kafkajsAcls(`User:cdr-${role}`, roleAcls(role, roleNames(role, env)));
      const acl = except ? all.filter((a) => !except(a)) : all;
      const admin = testKafka().admin();
      await admin.connect();
      await admin.createAcls({ acl });
      cleanups.push(async () => {
        await admin.deleteAcls({ filters: all });
        await admin.disconnect();
      });
      return { admin, acl, all };
    },
    /** No password of the secured users in any of `texts`. */
    expectNoSecret(...texts: string[]): void {
      for (const text of texts) for (const p of PASSWORDS) expect(text).not.toContain(p);
    },
  };
}
