// kafkajs 2.2.4 filters aborted transactions out of a read_committed fetch assuming the broker
// lists them by first offset, one starting at a time; the broker lists them in the order of their
// abort markers. When transactions of several producers interleave on a partition and end in
// another order (a crash aborting several at once), kafkajs hands out records of an aborted one.
// patches/kafkajs+2.2.4.patch (applied by patch-package on npm install) sorts them and takes every
// one that has started, as the Java consumer does. Every read of this service relies on it (the
// cursor read, the enricher, replay), so a process whose install skipped the patch refuses to start.
import { createRequire } from 'node:module';
import { CdrError, ErrorCodes } from '../errors.ts';

type Filter = (batch: {
  messages: Array<{
    offset: string;
    key: Buffer | null;
    batchContext: { producerId: string; inTransaction: boolean };
  }>;
  abortedTransactions: Array<{ producerId: string; firstOffset: string }>;
}) => Array<{ offset: string }>;

let checked = false;

export function assertReadCommittedFixed(): void {
  if (checked) return;
  const filter = createRequire(import.meta.url)('kafkajs/src/consumer/filterAbortedMessages.js') as Filter;
  const record = (offset: string, producerId: string) => ({
    offset,
    key: null,
    batchContext: { producerId, inTransaction: true },
  });
  // Producer 1's transaction starts first and is aborted last.
  const kept = filter({
    messages: [record('0', '1'), record('1', '2')],
    abortedTransactions: [
      { producerId: '2', firstOffset: '1' },
      { producerId: '1', firstOffset: '0' },
    ],
  });
  if (kept.length > 0)
    throw new CdrError(
      ErrorCodes.CONFIG_INVALID,
      'kafkajs is not patched (patches/kafkajs+2.2.4.patch): its read_committed reads would return aborted records. Install with npm ci (scripts enabled) so patch-package applies it',
    );
  checked = true;
}
