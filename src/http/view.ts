/**
 * The store seen as Mailpit's one mailbox of items: listing and searching newest first, the
 * counts, and the actions (read, tag, delete) that apply to every copy of an item. Routes of
 * both APIs use this; it knows the reader contract and nothing of HTTP.
 */
import type { Flag, IndexedMessage, MailReader, MessageSummary } from '../mailbox/reader.js';
import { notFound } from './errors.js';
import type { ItemCounts, ItemIndex } from './item-index.js';
import { compareTags, findItem, isRead, searchableOf, transactionItemId, type Item } from './items.js';
import { compileSearch, type SearchOptions } from './search.js';

export interface ItemWithSummary {
  readonly item: Item;
  readonly summary: MessageSummary;
}

/** What the whole store holds: items, unread items, and each tag in use with its number of items. */
export type Counts = ItemCounts;

export interface Page {
  readonly items: ItemWithSummary[];
  readonly counts: Counts;
  /** Items matching (all of them when listing). */
  readonly matched: number;
  readonly matchedUnread: number;
}

export class MailView {
  constructor(
    readonly reader: MailReader,
    private readonly index: ItemIndex,
  ) {}

  /** Every item, newest first. */
  items(): Item[] {
    return this.index.page(0, 0);
  }

  /** Items newest first, from `start`, at most `limit` (0: all). */
  page(start: number, limit: number): Item[] {
    return this.index.page(start, limit);
  }

  get size(): number {
    return this.index.size;
  }

  /** The item's first copy's summary; undefined when it is gone meanwhile. */
  async summarize(item: Item): Promise<ItemWithSummary | undefined> {
    const summary = item.copies[0].summary ?? (await this.reader.summary(item.copies[0]));
    return summary === undefined ? undefined : { item, summary };
  }

  /** Newest first; `limit` 0 means all. */
  async list(start: number, limit: number): Promise<Page> {
    const page = await this.summarizeAll(this.index.page(start, limit));
    const counts = this.counts();
    return { items: page, counts, matched: counts.total, matchedUnread: counts.unread };
  }

  /** Every item matching `query`, newest first. */
  async search(query: string, options: SearchOptions = {}): Promise<ItemWithSummary[]> {
    const matches = compileSearch(query, this.reader, options);
    const judge = ({ item, summary }: ItemWithSummary) => matches(searchableOf(item, summary));
    // Summaries at hand are judged at once; only the rest (mail this server stored, not yet read) wait for a file.
    const results: Array<ItemWithSummary | Promise<ItemWithSummary | undefined>> = [];
    let waiting = false;
    for (const item of this.index.all()) {
      const summary = item.copies[0].summary;
      if (summary === undefined) {
        results.push(this.summarize(item));
        waiting = true;
      } else if (matches(searchableOf(item, summary))) results.push({ item, summary });
    }
    if (!waiting) return results as ItemWithSummary[];
    return (await Promise.all(results.map((entry) => Promise.resolve(entry)))).filter(
      (entry): entry is ItemWithSummary => entry !== undefined && judge(entry),
    );
  }

  async searchPage(query: string, start: number, limit: number, options: SearchOptions = {}): Promise<Page> {
    const found = await this.search(query, options);
    return {
      items: found.slice(start, limit === 0 ? undefined : start + limit),
      counts: this.counts(),
      matched: found.length,
      matchedUnread: found.filter(({ item }) => !isRead(item)).length,
    };
  }

  /** `latest` (the newest item, or the newest matching `query`) or an ID; throws a 404 when there is none. */
  async resolve(id: string, query = '', options: SearchOptions = {}): Promise<Item> {
    if (id !== 'latest') {
      const item = findItem(this.reader, id);
      if (item === undefined) throw notFound();
      return item;
    }
    const latest = query.trim() === '' ? this.index.newest() : (await this.search(query, options))[0]?.item;
    if (latest === undefined) throw notFound();
    return latest;
  }

  /** The item a transaction stored, once the index has it. */
  resolveTransaction(transaction: string): Item | undefined {
    return findItem(this.reader, transactionItemId(transaction));
  }

  /** Items by ID; unknown IDs are skipped, as Mailpit skips them. */
  byIds(ids: readonly string[]): Item[] {
    return ids.map((id) => findItem(this.reader, id)).filter((item): item is Item => item !== undefined);
  }

  /** Items, unread items, and the tags in use with how many items have each (kept as they change). */
  counts(): Counts {
    return this.index.counts();
  }

  /** Every tag in use, sorted as Mailpit sorts them. */
  tags(counts = this.counts()): string[] {
    return [...counts.tags.keys()].sort(compareTags);
  }

  async setRead(items: readonly Item[], read: boolean): Promise<void> {
    await this.setFlags(copiesOf(items), read ? 'add' : 'remove', ['\\Seen']);
  }

  async remove(items: readonly Item[]): Promise<void> {
    for (const [folder, numbers] of byFolder(copiesOf(items))) await this.reader.remove(folder, numbers);
  }

  /** Replaces the item's keywords with `tags` (system flags kept). */
  async setTags(items: readonly Item[], tags: readonly string[]): Promise<void> {
    const wanted = new Set(tags.map((tag) => tag.trim()).filter((tag) => tag !== ''));
    const copies = copiesOf(items);
    const stale = [...new Set(copies.flatMap((copy) => copy.flags))].filter(
      (flag) => !flag.startsWith('\\') && !wanted.has(flag),
    );
    if (wanted.size > 0) await this.setFlags(copies, 'add', [...wanted]);
    if (stale.length > 0) await this.setFlags(copies, 'remove', stale);
  }

  async renameTag(from: string, to: string): Promise<void> {
    const copies = this.reader.allMessages().filter((copy) => copy.flags.includes(from));
    await this.setFlags(copies, 'add', [to.trim()]);
    await this.setFlags(copies, 'remove', [from]);
  }

  async deleteTag(tag: string): Promise<void> {
    await this.setFlags(
      this.reader.allMessages().filter((copy) => copy.flags.includes(tag)),
      'remove',
      [tag],
    );
  }

  private async setFlags(
    copies: readonly IndexedMessage[],
    operation: 'add' | 'remove',
    flags: readonly Flag[],
  ): Promise<void> {
    for (const [folder, numbers] of byFolder(copies)) await this.reader.setFlags(folder, numbers, operation, flags);
  }

  private async summarizeAll(items: readonly Item[]): Promise<ItemWithSummary[]> {
    const summarized = await Promise.all(items.map((item) => this.summarize(item)));
    return summarized.filter((entry): entry is ItemWithSummary => entry !== undefined);
  }
}

function copiesOf(items: readonly Item[]): IndexedMessage[] {
  return items.flatMap((item) => item.copies);
}

/** Copies grouped by folder, so each folder's `.mh_sequences` is rewritten once. */
function byFolder(copies: readonly IndexedMessage[]): Array<[{ mailbox: string; folder: string }, number[]]> {
  const groups = new Map<string, [{ mailbox: string; folder: string }, number[]]>();
  for (const { mailbox, folder, number } of copies) {
    const key = `${mailbox}\n${folder}`;
    const group = groups.get(key);
    if (group) group[1].push(number);
    else groups.set(key, [{ mailbox, folder }, [number]]);
  }
  return [...groups.values()];
}
