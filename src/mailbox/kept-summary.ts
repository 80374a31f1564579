/**
 * Summaries as the index keeps them: with 100,000 messages in memory at once, each costs what it
 * must. One shape for all (summaries made on the scan threads arrive each with its own), the date
 * as a number behind a getter (a Date is six times the size), the address lists that are usually
 * empty sharing one empty list, an address many messages carry (the application's sender,
 * the test's recipients) one object for all of them, and the snippet read from the store's text
 * file when asked for (only lists show it, a page at a time) once its record is there.
 */
import type { HeaderAddress, MessageSummary, TextRecord } from './reader.js';
import { SharedValues } from './shared-values.js';

/** The snippet of a summary whose records are in the store's text file, undefined if they are not. */
export type SnippetReader = (record: TextRecord) => string | undefined;

export class SummaryKeeper {
  private readonly addresses = new SharedValues<HeaderAddress>(10_000);
  private readonly lists = new SharedValues<HeaderAddress[]>(10_000);

  constructor(readonly snippetOf: SnippetReader = () => undefined) {}

  keep(summary: MessageSummary): MessageSummary {
    if (summary instanceof KeptSummary) return summary;
    return new KeptSummary(summary, this);
  }

  address({ name, address }: HeaderAddress): HeaderAddress {
    return this.addresses.share(`${name}\n${address}`, () => ({ name, address }));
  }

  list(addresses: readonly HeaderAddress[]): readonly HeaderAddress[] {
    const key = addresses.map(({ name, address }) => `${name}\n${address}`).join('\n\n');
    return this.lists.share(key, () => addresses.map((a) => this.address(a)));
  }
}

/** Its own text record too (see search-texts.ts): one object per message rather than two. */
class KeptSummary implements MessageSummary, TextRecord {
  readonly from: HeaderAddress | undefined;
  readonly to: readonly HeaderAddress[];
  readonly cc: readonly HeaderAddress[];
  readonly bcc: readonly HeaderAddress[];
  readonly replyTo: readonly HeaderAddress[];
  readonly subject: string;
  private readonly dateMs: number | undefined;
  readonly messageId: string;
  readonly attachments: number;
  readonly inline: number;
  /** Only while the snippet's record is not in the text file (it could not be written). */
  private readonly heldSnippet: string | undefined;
  position: number;
  generation: number;
  private readonly keeper: SummaryKeeper;

  constructor(summary: MessageSummary, keeper: SummaryKeeper) {
    this.from = summary.from && keeper.address(summary.from);
    this.to = keeper.list(summary.to);
    this.cc = keeper.list(summary.cc);
    this.bcc = keeper.list(summary.bcc);
    this.replyTo = keeper.list(summary.replyTo);
    this.subject = summary.subject;
    this.dateMs = summary.date?.getTime();
    this.messageId = summary.messageId;
    this.attachments = summary.attachments;
    this.inline = summary.inline;
    this.position = summary.textRecord.position;
    this.generation = summary.textRecord.generation;
    this.heldSnippet = this.position < 0 ? summary.snippet : undefined;
    this.keeper = keeper;
  }

  get snippet(): string {
    return this.heldSnippet ?? this.keeper.snippetOf(this) ?? '';
  }

  get textRecord(): TextRecord {
    return this;
  }

  get date(): Date | undefined {
    return this.dateMs === undefined ? undefined : new Date(this.dateMs);
  }
}
