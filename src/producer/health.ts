// The producer's liveness and readiness, from its pollers' health and its dependencies.
//
// A fenced account does not fail liveness: a restart would only take the account back from the
// process that now owns it. Readiness needs every account polling (a refused feed login, Kafka
// refusing this client, or a poll older than the staleness limit is not ready) and Kafka and the registry reachable.
import type { Check } from '../ops/http-server.ts';

/** What a poller says of its account. */
export interface AccountHealth {
  lastSuccessAt?: number;
  authFailing: boolean;
  /** The last response's header fit no layout. */
  headerUnreadable: boolean;
  /** What Kafka refused this client the last time (a login, a certificate, an ACL), until a poll goes through. */
  kafkaRefused?: string;
  lastErrorCode?: string;
}

export interface PollerState {
  account: string;
  health: AccountHealth;
}

export interface ProducerState {
  pollers: readonly PollerState[];
  /** Pollers still running. */
  running: () => number;
  fenced: ReadonlySet<string>;
  stopping: () => boolean;
}

export function liveness(state: ProducerState): Check {
  return {
    ok: state.running() + state.fenced.size === state.pollers.length || state.stopping(),
    details: { pollers: state.running(), fenced: [...state.fenced] },
  };
}

export function readiness(
  state: ProducerState,
  dependencies: { kafka: boolean; registry: boolean },
  staleAfterMs: number,
  now = Date.now(),
): Check {
  const accounts = state.pollers.map(({ account, health }) => ({
    account,
    fenced: state.fenced.has(account),
    authFailing: health.authFailing,
    headerUnreadable: health.headerUnreadable,
    kafkaRefused: health.kafkaRefused ?? null,
    lastSuccessAgoMs: health.lastSuccessAt === undefined ? null : now - health.lastSuccessAt,
    lastError: health.lastErrorCode ?? null,
  }));
  const ok =
    !state.stopping() &&
    dependencies.kafka &&
    dependencies.registry &&
    accounts.every(
      (a) =>
        !a.fenced &&
        !a.authFailing &&
        a.kafkaRefused === null &&
        a.lastSuccessAgoMs !== null &&
        a.lastSuccessAgoMs < staleAfterMs,
    );
  return { ok, details: { ...dependencies, accounts } };
}
