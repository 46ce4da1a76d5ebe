// The local stack's simulator serves the accounts ./dev start gives the producer, in either layout:
// the 17-column layout's demo accounts are its own (a second carrier account), and a simulator
// started with the defaults answered the producer's logins with 401.
import { describe, expect, it } from 'vitest';
import { demoAccounts, simulatorEnv } from '../../scripts/stack/simulator.ts';
import { loadSimulatorConfig } from '../../src/config/simulator.ts';

describe('the local stack simulator', () => {
  for (const layout of ['legacy17', 'contract'] as const)
    it(`serves the ${layout} layout to the demo accounts ./dev start uses`, () => {
      const config = loadSimulatorConfig(simulatorEnv(layout));
      expect(config.SIM_ACCOUNTS).toEqual(demoAccounts(layout));
      expect(config.SIM_LAYOUT).toBe(layout);
      // Its recordings only to the egress proxy's address.
      expect(config.SIM_RECORDING_ALLOW).toBe('127.0.0.2');
    });
});
