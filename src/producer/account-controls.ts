// One account's control records as its poller commits batches: the running totals per billing
// period it has committed, and for each batch the cdr.control and cdr.control.totals records that go
// last into the batch's transaction. The totals move only when the transaction has committed.
import type avro from 'avsc';
import type { Message, TopicMessages } from 'kafkajs';
import {
  addControl,
  type ControlValue,
  controlMessage,
  controlValues,
  type TallyColumns,
  totalsMessage,
} from '../topics/control.ts';

export interface AccountControlsOptions {
  account: string;
  /** The topic the CDRs go to (cdr.raw). */
  rawTopic: string;
  controlTopic: string;
  totalsTopic: string;
  type: avro.Type;
  /** Registry ids of cdr-control under the control topic's subject and the totals topic's. */
  schemaId: number;
  totalsSchemaId: number;
}

export class AccountControls {
  private readonly options: AccountControlsOptions;
  /** Running totals per billing period, as committed. */
  private totals = new Map<string, ControlValue>();

  constructor(options: AccountControlsOptions, committed: ReadonlyMap<string, ControlValue> | undefined) {
    this.options = options;
    this.reset(committed);
  }

  /** The running totals as read back from Kafka (after a failure, with the cursor). */
  reset(committed: ReadonlyMap<string, ControlValue> | undefined): void {
    this.totals = new Map(committed ?? []);
  }

  /**
   * The control records of a batch: `raw[i]` is the record of CDR i of `tallies`, `offsets[i]` the offset
   * Kafka gave it in the open transaction. `next` is to be handed to `committed` once it commits.
   */
  records(
    raw: readonly Message[],
    tallies: TallyColumns,
    offsets: ArrayLike<number>,
    cursor: number,
  ): { topicMessages: TopicMessages[]; next: ControlValue[] } {
    const options = this.options;
    const deltas = controlValues(
      { account: options.account, topic: options.rawTopic },
      raw,
      tallies,
      offsets,
      cursor,
    );
    const next = deltas.map((d) => addControl(this.totals.get(d.billing_period), d));
    return {
      next,
      topicMessages: [
        { topic: options.controlTopic, messages: deltas.map((d) => controlMessage(options, d)) },
        {
          topic: options.totalsTopic,
          messages: next.map((t) =>
            totalsMessage({ type: options.type, schemaId: options.totalsSchemaId }, t),
          ),
        },
      ],
    };
  }

  /** The batch whose records were `next` has committed. */
  committed(next: readonly ControlValue[]): void {
    for (const t of next) this.totals.set(t.billing_period, t);
  }
}
