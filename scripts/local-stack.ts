// `npm run local:up | local:down | local:status`: the local Kafka, registry and feed simulator.
import { ADDRESSES, defaultParts, down, fetchRuntimes, PARTS, type Part, status, up } from './stack/index.ts';

// `up` and `status` default to the parts STACK_BROKERS asks for (the single broker, or the
// three-node cluster with STACK_BROKERS=3); `down` to everything the stack started.
const [command = 'status', ...names] = process.argv.slice(2);
const parts = (names.length > 0 ? names : command === 'down' ? PARTS : defaultParts()) as Part[];
for (const p of parts) {
  if (!PARTS.includes(p)) {
    console.error(`unknown part ${p}; parts: ${PARTS.join(', ')}`);
    process.exit(2);
  }
}

async function main(): Promise<number> {
  switch (command) {
    case 'fetch': {
      fetchRuntimes();
      console.log('Kafka jars and the registry are in place (Maven cache ~/.m2 and .local/)');
      return 0;
    }
    case 'up': {
      const t0 = Date.now();
      const result = await up(parts, (line) => console.log(line));
      const kafka = parts.includes('cluster') ? ADDRESSES.cluster : ADDRESSES.single;
      for (const p of result.alreadyUp) console.log(`${p}: already up`);
      console.log(`ready in ${((Date.now() - t0) / 1000).toFixed(1)}s`);
      console.log(`  Kafka bootstrap   ${kafka}`);
      console.log(`  Schema registry   ${ADDRESSES.registry}  (Confluent API)`);
      console.log(`  Feed simulator    ${ADDRESSES.simulator}/billing/feed`);
      return 0;
    }
    case 'down': {
      const stopped = await down(parts);
      console.log(stopped.length > 0 ? `stopped: ${stopped.join(', ')}` : 'nothing was running');
      return 0;
    }
    case 'status': {
      let bad = 0;
      for (const s of await status(parts)) {
        const state = s.ready
          ? 'up'
          : s.running
            ? 'running, not answering'
            : s.pids.length > 0 || s.log
              ? 'DIED (see log)'
              : 'down';
        if ((s.pids.length > 0 || s.log) && !s.ready) bad++;
        const pids = s.pids.length > 0 ? `  pid ${s.pids.join(', ')}` : '';
        console.log(
          `${s.part.padEnd(10)} ${state.padEnd(24)} ${s.address}${pids}${s.log && !s.ready ? `  log ${s.log}` : ''}`,
        );
      }
      return bad > 0 ? 1 : 0;
    }
    default:
      console.error('usage: local-stack.ts up|down|status|fetch [kafka|cluster|registry|simulator ...]');
      return 2;
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  },
);
