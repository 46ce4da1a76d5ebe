// The producer's liveness and readiness from its pollers' health (producer/health.ts).
import { describe, expect, it } from 'vitest';
import { liveness, readiness } from '../../src/producer/health.ts';

const now = 1_000_000;
function state(over: { fenced?: string[]; running?: number; stopping?: boolean } = {}) {
  return {
    pollers: [
      { account: 'a', health: { authFailing: false, headerUnreadable: false, lastSuccessAt: now - 1000 } },
      { account: 'b', health: { authFailing: false, headerUnreadable: false, lastSuccessAt: now - 2000 } },
    ],
    running: () => over.running ?? 2,
    fenced: new Set(over.fenced ?? []),
    stopping: () => over.stopping ?? false,
  };
}
const up = { kafka: true, registry: true };

describe('producer health', () => {
  it('is live while every poller runs or was fenced; a poller that died otherwise is not', () => {
    expect(liveness(state()).ok).toBe(true);
    expect(liveness(state({ running: 1, fenced: ['b'] })).ok).toBe(true);
    expect(liveness(state({ running: 1 })).ok).toBe(false);
    expect(liveness(state({ running: 1, stopping: true })).ok).toBe(true);
  });

  it('is ready when every account polled lately and Kafka and the registry answer', () => {
    expect(readiness(state(), up, 60_000, now).ok).toBe(true);
    expect(readiness(state(), up, 1500, now).ok).toBe(false);
    expect(readiness(state(), { kafka: false, registry: true }, 60_000, now).ok).toBe(false);
    expect(readiness(state({ fenced: ['a'] }), up, 60_000, now).ok).toBe(false);
    const s = state();
    (s.pollers[1] as { health: { authFailing: boolean } }).health.authFailing = true;
    const r = readiness(s, up, 60_000, now);
    expect(r.ok).toBe(false);
    expect(r.details).toMatchObject({ accounts: [{ account: 'a' }, { account: 'b', authFailing: true }] });
  });
});
