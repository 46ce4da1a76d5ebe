// `./dev chaos [--rounds N] [--kinds k1,k2] [--rate rows/s] [--accounts N] [--single] [--keep-topics] [--env K=V]`: the fault
// campaign on the three-node cluster (bench/chaos/campaign.ts); with --single, on the single broker
// (stopped or killed and started again, `rounds` times each). --pipeline-root runs the producer and
// enrichers of another checkout (a version before a change) under the same campaign. Starts the cluster and the registry if they are
// not up, runs the producer and two enrichers while the feed grows, injects each fault kind
// `rounds` times (interleaved), checks every topic with kcat after each, and prints a table per
// fault kind. Exits 1 on any duplicate, loss, stuck account, error-level line or unclean exit.
// Topics of earlier campaigns and conformance tests are deleted first, this run's at the end
// (--keep-topics keeps them; so does a run that found a duplicate or a loss).
// Results and the processes' logs: .local/chaos/<run>/.
import { parseArgs } from 'node:util';
import { LOCAL } from '../scripts/stack/paths.ts';
import { type CampaignResult, type RoundResult, runCampaign } from './chaos/campaign.ts';
import { FAULT_KINDS, FAULT_TEXT, type FaultKind, SINGLE_FAULT_KINDS } from './chaos/faults.ts';

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '10' },
    kinds: { type: 'string' },
    rate: { type: 'string', default: '200' },
    accounts: { type: 'string', default: '4' },
    'down-ms': { type: 'string', default: '10000' },
    'pause-ms': { type: 'string', default: '30000' },
    single: { type: 'boolean', default: false },
    'pipeline-root': { type: 'string' },
    'keep-topics': { type: 'boolean', default: false },
    /** KEY=VALUE for the producer and the enrichers, e.g. LOG_LEVEL=debug and KAFKAJS_LOG_LEVEL=debug. */
    env: { type: 'string', multiple: true },
  },
});
const env = Object.fromEntries(
  (values.env ?? []).map((kv) => {
    const at = kv.indexOf('=');
    if (at < 1) throw new Error(`--env takes KEY=VALUE, got ${kv}`);
    return [kv.slice(0, at), kv.slice(at + 1)];
  }),
);
const known: readonly FaultKind[] = values.single ? SINGLE_FAULT_KINDS : FAULT_KINDS;
const kinds = (values.kinds ?? known.join(',')).split(',') as FaultKind[];
for (const k of kinds)
  if (!known.includes(k)) throw new Error(`unknown fault kind ${k}: ${known.join(', ')}`);

const started = Date.now();
const result = await runCampaign({
  stack: values.single ? 'single' : 'cluster',
  kinds,
  rounds: Number(values.rounds),
  rowsPerSecond: Number(values.rate),
  accounts: Number(values.accounts),
  downMs: Number(values['down-ms']),
  pauseMs: Number(values['pause-ms']),
  dir: `${LOCAL}/chaos`,
  keepTopics: values['keep-topics'],
  env,
  ...(values['pipeline-root'] === undefined ? {} : { pipelineRoot: values['pipeline-root'] }),
  log: (line) => console.log(line),
});
console.log(
  `\n${summary(result)}\ncampaign took ${((Date.now() - started) / 60_000).toFixed(1)} min; logs ${result.logDir}`,
);
process.exit(verdict(result).length === 0 ? 0 : 1);

function percentile(values: number[], p: number): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

export function summary(r: CampaignResult): string {
  const s = (ms: number | undefined) => (ms === undefined ? '-' : `${(ms / 1000).toFixed(1)} s`);
  const lines = [
    '| fault | runs | faults | duplicates (raw/enriched/dlq) | missing (raw/enriched/dlq) | totals differ | stuck | commits resumed p50 / max | longest commit gap p50 / max | resumed after the cluster was whole p50 / max | enrichers resumed p50 / max |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  const byKind = new Map<FaultKind, RoundResult[]>();
  for (const round of r.rounds) byKind.set(round.run.kind, [...(byKind.get(round.run.kind) ?? []), round]);
  for (const [kind, rounds] of byKind) {
    const sum = (f: (x: RoundResult) => number) => rounds.reduce((n, x) => n + f(x), 0);
    /** The rounds' values of one measure that has one, as "p50 / max". */
    const spread = (f: (x: RoundResult) => number | undefined) => {
      const values = rounds.map(f).filter((x): x is number => x !== undefined);
      return { values, text: `${s(percentile(values, 50))} / ${s(Math.max(...values))}` };
    };
    const resumes = spread((x) => x.producerResumeMs);
    const unresumed = rounds.length - resumes.values.length;
    lines.push(
      `| ${FAULT_TEXT[kind]} | ${rounds.length} | ${sum((x) => x.run.faults)} | ` +
        `${sum((x) => x.added.raw.duplicates)} / ${sum((x) => x.added.enriched.duplicates)} / ${sum((x) => x.added.dlq.duplicates)} | ` +
        `${sum((x) => x.added.raw.missing)} / ${sum((x) => x.added.enriched.missing)} / ${sum((x) => x.added.dlq.missing)} | ` +
        `${sum((x) => x.check.totals.length)} | ${sum((x) => x.stuck.length)} | ` +
        `${resumes.text}${unresumed > 0 ? ` (${unresumed} not resumed)` : ''} | ` +
        `${spread((x) => x.producerStallMs).text} | ${spread((x) => x.producerAfterWholeMs).text} | ` +
        `${spread((x) => x.enricherResumeMs).text} |`,
    );
  }
  const last = r.rounds.at(-1)?.check;
  if (last)
    lines.push(
      '',
      `after the last round, read back with kcat: cdr.raw ${last.raw.duplicates} duplicated, ${last.raw.missing} missing, ${last.raw.unexpected} unexpected; enriched ${last.enriched.duplicates} / ${last.enriched.missing} / ${last.enriched.unexpected}; cdr.dlq ${last.dlq.duplicates} / ${last.dlq.missing} / ${last.dlq.unexpected}; control totals ${last.totals.length === 0 ? 'equal to cdr.raw' : `${last.totals.length} differ`}`,
    );
  lines.push(
    '',
    `faults in all: ${r.rounds.reduce((n, x) => n + x.run.faults, 0)}; exit codes after SIGTERM: ${[...r.exitCodes].map(([k, v]) => `${k} ${v}`).join(', ')}`,
    `error-level log lines: ${r.errorLines.length}; warn-level: ${r.warnLines}`,
    ...r.errorLines.slice(0, 10).map((l) => `  ${l.slice(0, 400)}`),
  );
  const problems = verdict(r);
  lines.push(
    problems.length === 0 ? 'verdict: every CDR exactly once' : `verdict: FAILED\n  ${problems.join('\n  ')}`,
  );
  return lines.join('\n');
}

function verdict(r: CampaignResult): string[] {
  const problems: string[] = [];
  if (r.failure !== undefined) problems.push(`the campaign stopped early: ${r.failure.split('\n')[0]}`);
  for (const [i, x] of r.rounds.entries()) {
    if (!x.check.ok) problems.push(`round ${i + 1} (${x.run.kind}): topics do not check out`);
    if (x.stuck.length > 0) problems.push(`round ${i + 1} (${x.run.kind}): stuck ${x.stuck.join(', ')}`);
    if (x.producerResumeMs === undefined)
      problems.push(`round ${i + 1} (${x.run.kind}): commits did not resume`);
  }
  for (const [name, code] of r.exitCodes) if (code !== 0) problems.push(`${name} exited ${code} on SIGTERM`);
  if (r.errorLines.length > 0) problems.push(`${r.errorLines.length} error-level log lines`);
  return problems;
}
