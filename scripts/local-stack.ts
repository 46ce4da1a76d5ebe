// `npm run local:up | local:down | local:status`: the local Kafka, registry and feed simulator.
import { ADDRESSES, down, fetchRuntimes, PARTS, type Part, status, up } from './stack/index.ts';

const [command = 'status', ...names] = process.argv.slice(2);
const parts = (names.length > 0 ? names : PARTS) as Part[];
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
      for (const p of result.alreadyUp) console.log(`${p}: already up`);
      console.log(`ready in ${((Date.now() - t0) / 1000).toFixed(1)}s`);
      console.log(`  Kafka bootstrap   ${ADDRESSES.brokers}`);
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
      for (const s of await status()) {
        const state = s.ready
          ? 'up'
          : s.running
            ? 'running, not answering'
            : s.pid
              ? 'DIED (see log)'
              : 'down';
        if (s.pid && !s.ready) bad++;
        console.log(
          `${s.part.padEnd(10)} ${state.padEnd(24)} ${s.address}${s.pid ? `  pid ${s.pid}` : ''}${s.log && !s.ready ? `  log ${s.log}` : ''}`,
        );
      }
      return bad > 0 ? 1 : 0;
    }
    default:
      console.error('usage: local-stack.ts up|down|status|fetch [kafka|registry|simulator ...]');
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
