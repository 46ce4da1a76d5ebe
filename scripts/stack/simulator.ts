// The project's own feed simulator (`cdr-pipeline simulate`), run with the Node that runs this script.
import { LOCAL, PORTS, ROOT } from './paths.ts';
import { type Started, startDetached } from './processes.ts';

export function startSimulatorProcess(): Started {
  return startDetached(
    process.execPath,
    [`${ROOT}/src/cli.ts`, 'simulate'],
    `${LOCAL}/simulator/simulator.log`,
    {
      ...process.env,
      SIM_HOST: '127.0.0.1',
      SIM_PORT: String(PORTS.simulator),
    },
  );
}

export async function simulatorReady(url: string): Promise<boolean> {
  try {
    const res = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(2000) });
    await res.body?.cancel();
    return res.ok;
  } catch {
    return false;
  }
}
