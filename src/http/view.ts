/**
 * The store seen as Mailpit's one mailbox of items: listing and searching newest first, the
 * counts, and the actions (read, tag, delete) that apply to every copy of an item. Routes of
 * both APIs use this; it knows the reader contract and nothing of HTTP.
 */
import type { Flag, IndexedMessage, MailReader, MessageSummary } from '../mailbox/reader.js';
import { notFound } from './errors.js';
import {
  compareTags,
  findItem,
  groupItems,
  isRead,
  searchableOf,
  tagsOf,
  transactionItemId,
  type Item,
} from './items.js';
import { compileSearch, type SearchOptions } from './search.js';

export interface ItemWithSummary {
  readonly item: Item;
  readonly summary: MessageSummary;
}

export interface Page {
  readonly items: ItemWithSummary[];
  /** Items matching (all of them when listing). */
  readonly matched: number;
  readonly matchedUnread: number;
}

export class MailView {
  constructor(readonly reader: MailReader) {}

  items(): Item[] {
    return groupItems(this.reader.allMessages());
  }

  /** The item's first copy's summary; undefined when it is gone meanwhile. */
  async summarize(item: Item): Promise<ItemWithSummary | undefined> {
    const summary = item.copies[0].summary ?? (await this.reader.summary(item.copies[0]));
    return summary === undefined ? undefined : { item, summary };
  }

  /** Newest first; `limit` 0 means all. */
  async list(start: number, limit: number): Promise<Page> {
    const items = this.items();
    const page = await this.summarizeAll(slice(items, start, limit));
    return { items: page, matched: items.length, matchedUnread: items.filter((item) => !isRead(item)).length };
  }

  /** Every item matching `query`, newest first. */
  async search(query: string, options: SearchOptions = {}): Promise<ItemWithSummary[]> {
    const matches = compileSearch(query, options);
    const all = await this.summarizeAll(this.items());
    return all.filter(({ item, summary }) => matches(searchableOf(item, summary)));
  }

  async searchPage(query: string, start: number, limit: number, options: SearchOptions = {}): Promise<Page> {
    const found = await this.search(query, options);
    return {
      items: slice(found, start, limit),
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
    const latest = query.trim() === '' ? this.items()[0] : (await this.search(query, options))[0]?.item;
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

  counts(): { total: number; unread: number; tags: string[] } {
    const items = this.items();
    return { total: items.length, unread: items.filter((item) => !isRead(item)).length, tags: this.tags(items) };
  }

  tags(items: readonly Item[] = this.items()): string[] {
    return [...new Set(items.flatMap(tagsOf))].sort(compareTags);
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

function slice<T>(list: readonly T[], start: number, limit: number): T[] {
  return list.slice(start, limit === 0 ? undefined : start + limit);
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
