/**
 * The store's in-memory index of every stored message: by folder and number, by SMTP
 * transaction, and in arrival order. It knows nothing of the disk: the store tells it what
 * changed (its own writes, and what it finds other processes did) and readers read it.
 */
import { FolderMap } from './folder-map.js';
import { SummaryKeeper, type SnippetReader } from './kept-summary.js';
import { rangesOf, unionRanges, type Ranges } from './sequences.js';
import { SharedValues } from './shared-values.js';
import type {
  Flag,
  FolderInfo,
  FolderRef,
  IndexedMessage,
  MessageEnvelope,
  MessageRef,
  MessageSummary,
} from './reader.js';

/** What a new index entry is made of; the envelope of a copy read from a file may be partial. */
export interface NewEntry extends MessageRef {
  readonly transaction: string | undefined;
  readonly envelope: MessageEnvelope;
  readonly receivedAt: Date;
  readonly size: number;
  readonly summary?: MessageSummary | undefined;
  readonly flags?: readonly Flag[];
  /** The envelope lists only this copy's recipient (read from a file): the transaction's other copies complete it. */
  readonly partialEnvelope?: boolean;
}

/**
 * An index entry: the fields readers see, of which flags, summary and (for copies read from files)
 * envelope change in place. A class, so that 100,000 entries share one shape with every field in
 * the object; the arrival time is kept as a number (a Date costs six times the memory).
 */
export class Entry implements IndexedMessage {
  readonly mailbox: string;
  readonly folder: string;
  readonly number: number;
  readonly transaction: string | undefined;
  envelope: MessageEnvelope;
  /** `receivedAt` in milliseconds since the epoch. */
  readonly receivedMs: number;
  readonly size: number;
  flags: readonly Flag[];
  summary: MessageSummary | undefined;
  /** Octets as served with CRLF line ends, once someone asked. */
  servedSize: number | undefined;

  constructor(
    fields: NewEntry,
    envelope: MessageEnvelope,
    summary: MessageSummary | undefined,
    flags: readonly Flag[],
  ) {
    this.mailbox = fields.mailbox;
    this.folder = fields.folder;
    this.number = fields.number;
    this.transaction = fields.transaction;
    this.envelope = envelope;
    this.receivedMs = fields.receivedAt.getTime();
    this.size = fields.size;
    this.flags = flags;
    this.summary = summary;
    this.servedSize = undefined;
  }

  get receivedAt(): Date {
    return new Date(this.receivedMs);
  }
}

const noFlags: readonly Flag[] = Object.freeze([]);

export interface FolderState {
  readonly ref: FolderRef;
  uidValidity: number;
  /** The highest number ever given out here (`.mh_highwater`, or the highest file). */
  highWater: number;
  readonly messages: Map<number, Entry>;
  /** `messages` by number, rebuilt on demand after a change. */
  sorted: Entry[] | undefined;
  /**
   * Numbers this folder held and no longer does. One of them stored again means the numbering
   * restarted or another tool reused it: the UIDs are not what IMAP clients cached any more.
   */
  removed: Ranges;
}

/**
 * Message `number` of `folder`. Spelled out rather than spread: in V8 (Node 20) adding a property
 * to an object made by spreading costs about a microsecond, and the index does it per message.
 */
export function messageRef(folder: FolderRef, number: number): MessageRef {
  return { mailbox: folder.mailbox, folder: folder.folder, number };
}

export function folderKey(ref: FolderRef): string {
  return `${ref.mailbox}\u0000${ref.folder}`;
}

/** Oldest first; copies of one message (same arrival) by mailbox, folder, then number. */
export function compareArrival(a: IndexedMessage, b: IndexedMessage): number {
  return (
    a.receivedMs - b.receivedMs ||
    compareText(a.mailbox, b.mailbox) ||
    compareText(a.folder, b.folder) ||
    a.number - b.number
  );
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export class MessageIndex {
  private readonly folderStates = new FolderMap<FolderState>();
  private folderChanges = 0;
  /**
   * Every entry, in arrival order once `sortedOrder` has run. New mail goes at the end; an entry
   * that arrived earlier (the first scan reads folder after folder) only marks the order unsorted,
   * and it is sorted when next needed: splicing 100,000 entries in one by one took seconds.
   */
  private ordered: Entry[] = [];
  private orderedSorted = true;
  /** The copies of each SMTP transaction (they share one envelope object); most have one, kept as itself. */
  private readonly transactions = new Map<string, Entry | Entry[]>();
  /** The UIDVALIDITY of folders no longer there: one made again under the name gets a greater one. */
  private readonly pastUidValidities = new FolderMap<number>();
  private readonly summaries: SummaryKeeper;
  /** Flag lists (most messages have none, or only \\Seen) and envelopes, one object for each that recurs. */
  private readonly flagLists = new SharedValues<Flag[]>(1000);
  private readonly sharedEnvelopes = new SharedValues<MessageEnvelope>(10_000);

  /** `snippetOf` reads the snippets kept in the store's text file (see kept-summary.ts). */
  constructor(snippetOf?: SnippetReader) {
    this.summaries = new SummaryKeeper(snippetOf);
  }

  mailboxes(): string[] {
    return [...this.folderStates.mailboxes()].sort();
  }

  folder(ref: FolderRef): FolderState | undefined {
    return this.folderStates.get(ref);
  }

  /** The mailbox's folders, INBOX first, then by name. */
  foldersOf(mailbox: string): FolderState[] {
    const folders = [...this.folderStates.valuesOf(mailbox)];
    return folders.sort((a, b) =>
      a.ref.folder === 'INBOX' ? -1 : b.ref.folder === 'INBOX' ? 1 : compareText(a.ref.folder, b.ref.folder),
    );
  }

  allFolders(): FolderState[] {
    return [...this.folderStates.values()];
  }

  /** Goes up whenever a folder is added or removed: what depends on the set of folders is redone only then. */
  get foldersVersion(): number {
    return this.folderChanges;
  }

  /** Adds a folder (empty), or returns the one there. */
  addFolder(ref: FolderRef, uidValidity: number, highWater: number): FolderState {
    const existing = this.folderStates.get(ref);
    if (existing) return existing;
    const state: FolderState = {
      ref: { mailbox: ref.mailbox, folder: ref.folder },
      uidValidity,
      highWater,
      messages: new Map(),
      sorted: undefined,
      removed: [],
    };
    this.folderStates.set(ref, state);
    this.folderChanges++;
    return state;
  }

  /** Drops a folder and its entries; returns the numbers it held. */
  removeFolder(ref: FolderRef): number[] {
    const state = this.folder(ref);
    if (!state) return [];
    const numbers = this.remove(state, [...state.messages.keys()]).map((entry) => entry.number);
    this.folderStates.delete(ref);
    this.folderChanges++;
    this.pastUidValidities.set(ref, state.uidValidity);
    return numbers;
  }

  /** The UIDVALIDITY a folder of this name last had in this process (0 if none). */
  pastUidValidity(ref: FolderRef): number {
    return this.pastUidValidities.get(ref) ?? 0;
  }

  message(ref: MessageRef): Entry | undefined {
    return this.folder(ref)?.messages.get(ref.number);
  }

  /** The folder's entries by number. */
  messagesOf(state: FolderState): Entry[] {
    return (state.sorted ??= [...state.messages.values()].sort((a, b) => a.number - b.number));
  }

  all(): readonly Entry[] {
    return this.sortedOrder();
  }

  transaction(id: string): Entry[] {
    return this.copiesOf(id);
  }

  /**
   * Adds an entry to its folder (which must be known). A copy of a transaction whose other
   * copies are known shares their envelope, extended by this copy's recipients.
   */
  add(state: FolderState, fields: NewEntry): Entry {
    const summary = fields.summary && this.summaries.keep(fields.summary);
    const entry = new Entry(fields, this.envelopeFor(fields), summary, this.sharedFlags(fields.flags ?? noFlags));
    if (state.messages.has(entry.number)) this.remove(state, [entry.number]);
    state.messages.set(entry.number, entry);
    state.sorted = undefined;
    state.highWater = Math.max(state.highWater, entry.number);
    this.insertOrdered(entry);
    if (entry.transaction !== undefined) {
      const copies = this.transactions.get(entry.transaction);
      if (copies === undefined) this.transactions.set(entry.transaction, entry);
      else if (copies instanceof Entry) this.transactions.set(entry.transaction, [copies, entry]);
      else copies.push(entry);
    }
    return entry;
  }

  /** Removes entries by number; returns those that were there. */
  remove(state: FolderState, numbers: readonly number[]): Entry[] {
    const removed: Entry[] = [];
    for (const number of numbers) {
      const entry = state.messages.get(number);
      if (!entry) continue;
      state.messages.delete(number);
      removed.push(entry);
      if (entry.transaction === undefined) continue;
      const left = this.copiesOf(entry.transaction).filter((copy) => copy !== entry);
      if (left.length === 0) this.transactions.delete(entry.transaction);
      else this.transactions.set(entry.transaction, left.length === 1 ? left[0] : left);
    }
    if (removed.length === 0) return removed;
    state.sorted = undefined;
    state.removed = unionRanges(state.removed, rangesOf(removed.map((entry) => entry.number)));
    // One pass for many, a binary search for a few.
    if (removed.length > 16) {
      const gone = new Set(removed);
      this.ordered = this.ordered.filter((entry) => !gone.has(entry));
    } else {
      for (const entry of removed) this.sortedOrder().splice(this.orderedIndex(entry), 1);
    }
    return removed;
  }

  /** Replaces flags; returns the entries whose flags changed. */
  setFlags(
    state: FolderState,
    flags: ReadonlyMap<number, readonly Flag[]>,
  ): Array<{ number: number; flags: readonly Flag[] }> {
    const changed: Array<{ number: number; flags: readonly Flag[] }> = [];
    for (const [number, next] of flags) {
      const entry = state.messages.get(number);
      if (!entry || sameFlags(entry.flags, next)) continue;
      entry.flags = this.sharedFlags(next);
      changed.push({ number, flags: entry.flags });
    }
    return changed;
  }

  /** Keeps a summary made after the entry (summaries are made when first asked for). */
  setSummary(entry: Entry, summary: MessageSummary): MessageSummary {
    return (entry.summary = this.summaries.keep(summary));
  }

  info(state: FolderState): FolderInfo {
    let unseen = 0;
    for (const entry of state.messages.values()) if (!entry.flags.includes('\\Seen')) unseen++;
    return {
      mailbox: state.ref.mailbox,
      folder: state.ref.folder,
      uidValidity: state.uidValidity,
      uidNext: state.highWater + 1,
      messages: state.messages.size,
      unseen,
    };
  }

  /**
   * A delivery knows every recipient of its transaction; a copy read from a file knows only its
   * own, and shares one envelope with the transaction's other copies, each adding its recipient
   * (sorted, so every scan agrees). Envelopes are values: one that grows is replaced on every copy.
   */
  private envelopeFor(fields: NewEntry): MessageEnvelope {
    if (!fields.partialEnvelope) return fields.envelope;
    const id = fields.transaction;
    const known = id === undefined ? undefined : this.transactions.get(id);
    if (id === undefined || known === undefined) return this.sharedEnvelope(fields.envelope);
    const shared = (known instanceof Entry ? known : known[0]).envelope;
    const added = fields.envelope.to.filter((recipient) => !shared.to.includes(recipient));
    if (added.length === 0) return shared;
    const envelope = this.sharedEnvelope({ from: shared.from, to: [...shared.to, ...added].sort() });
    for (const copy of this.copiesOf(id)) copy.envelope = envelope;
    return envelope;
  }

  private copiesOf(transaction: string): Entry[] {
    const copies = this.transactions.get(transaction);
    return copies === undefined ? [] : copies instanceof Entry ? [copies] : [...copies];
  }

  private sharedFlags(flags: readonly Flag[]): readonly Flag[] {
    return flags.length === 0 ? noFlags : this.flagLists.share(flags.join(' '), () => [...flags]);
  }

  private sharedEnvelope({ from, to }: MessageEnvelope): MessageEnvelope {
    return this.sharedEnvelopes.share(`${from}\n${to.join('\n')}`, () => ({ from, to: Object.freeze([...to]) }));
  }

  private insertOrdered(entry: Entry): void {
    const last = this.ordered[this.ordered.length - 1];
    if (last && compareArrival(last, entry) > 0) this.orderedSorted = false;
    this.ordered.push(entry);
  }

  private sortedOrder(): Entry[] {
    if (!this.orderedSorted) {
      this.ordered.sort(compareArrival);
      this.orderedSorted = true;
    }
    return this.ordered;
  }

  /** The first position whose entry sorts after `entry` (the order must be sorted). */
  private insertionPoint(entry: IndexedMessage): number {
    let low = 0;
    let high = this.ordered.length;
    while (low < high) {
      const middle = (low + high) >> 1;
      if (compareArrival(this.ordered[middle], entry) <= 0) low = middle + 1;
      else high = middle;
    }
    return low;
  }

  private orderedIndex(entry: Entry): number {
    let at = this.insertionPoint(entry) - 1;
    while (at >= 0 && this.ordered[at] !== entry) at--;
    return at;
  }
}

function sameFlags(a: readonly Flag[], b: readonly Flag[]): boolean {
  return a.length === b.length && a.every((flag, i) => flag === b[i]);
}
