/**
 * The items (see items.ts) kept from the store's change stream instead of grouped again for each
 * request: with 100,000 messages a list must not walk them all. Items are in the order of their
 * first copy's arrival; each holds the index's own entries, whose flags and summary the store
 * updates in place, so a flags change needs nothing here. Listeners hear of items as a whole:
 * the first copy of a transaction adds its item, the last one gone removes it.
 *
 * Kept from the first time it is used (a request, an event stream): a server whose HTTP API no
 * one calls, as in most test suites, does not do this work for every copy it stores.
 */
import { EventEmitter } from 'node:events';
import { FolderMap } from '../mailbox/folder-map.js';
import { compareArrival, messageRef } from '../mailbox/message-index.js';
import type { IndexedMessage, MailReader, MessageRef, StoreChange, Watch } from '../mailbox/reader.js';
import { isRead, itemId, tagsOf, type Item } from './items.js';

interface KeptItem {
  readonly id: string;
  /** Oldest first, as the index orders them; never empty while the item is kept. */
  readonly copies: [IndexedMessage, ...IndexedMessage[]];
  /** What the counts hold of it: worked out at each change of its copies or their flags. */
  read: boolean;
  tags: readonly string[];
}

/** The whole store's counts, kept as items come, go and change, so that no request counts them. */
export interface ItemCounts {
  readonly total: number;
  readonly unread: number;
  /** Each tag in use, with how many items have it. */
  readonly tags: ReadonlyMap<string, number>;
}

export interface ItemEvents {
  /** A new item (its first copy arrived). */
  added: [Item];
  /** The last copies of these items are gone (in one change). */
  removed: [readonly string[]];
  /**
   * The item's read state or tags changed. Once per change of the item, not per copy: marking the
   * three copies of a message read, folder by folder, is one change (when the last is marked).
   */
  flags: [Item];
}

const noTags: readonly string[] = Object.freeze([]);

/** Items by the copies they hold: per folder, by number (no key string made for each of 100,000 copies). */
class ItemsByCopy {
  private readonly folders = new FolderMap<Map<number, KeptItem>>();

  get(ref: MessageRef): KeptItem | undefined {
    return this.folders.get(ref)?.get(ref.number);
  }

  set(ref: MessageRef, item: KeptItem): void {
    let numbers = this.folders.get(ref);
    if (!numbers) this.folders.set(ref, (numbers = new Map<number, KeptItem>()));
    numbers.set(ref.number, item);
  }

  delete(ref: MessageRef): void {
    this.folders.get(ref)?.delete(ref.number);
  }

  clear(): void {
    this.folders.clear();
  }
}

const sameCopy = (a: MessageRef, b: MessageRef) =>
  a.number === b.number && a.folder === b.folder && a.mailbox === b.mailbox;

export class ItemIndex extends EventEmitter<ItemEvents> {
  private readonly byId = new Map<string, KeptItem>();
  private readonly byCopy = new ItemsByCopy();
  /** Oldest first, by first copy. */
  private ordered: KeptItem[] = [];
  private unread = 0;
  private readonly tagItems = new Map<string, number>();
  private watch: Watch | undefined;
  private closed = false;

  constructor(private readonly reader: MailReader) {
    super();
  }

  get size(): number {
    return this.kept().length;
  }

  counts(): ItemCounts {
    return { total: this.kept().length, unread: this.unread, tags: this.tagItems };
  }

  /** The item at `index`, newest first; undefined past the end. */
  newest(index = 0): Item | undefined {
    const ordered = this.kept();
    return ordered[ordered.length - 1 - index];
  }

  /** Items newest first, from `start`, at most `limit` (0: all). */
  page(start: number, limit: number): Item[] {
    const ordered = this.kept();
    const end = Math.max(0, ordered.length - start);
    const from = limit === 0 ? 0 : Math.max(0, end - limit);
    return ordered.slice(from, end).reverse();
  }

  /** Every item, newest first, without copying the list. */
  *all(): Generator<Item> {
    const ordered = this.kept();
    for (let i = ordered.length - 1; i >= 0; i--) yield ordered[i];
  }

  /** Starts keeping the items, if it has not yet (an event stream wants them from now on). */
  start(): void {
    if (this.watch !== undefined || this.closed) return;
    this.watch = this.reader.watch('all', (change) => this.apply(change));
    for (const message of this.watch.snapshot) this.add(message);
    if (this.watch.complete) return;
    // The first scan of MAIL_DIR fills the index without announcing each message: taken in whole
    // once it is done, quietly (what was there at start is not new mail).
    void this.reader.indexed.then(() => {
      if (!this.closed) this.rebuild(false);
    });
  }

  close(): void {
    this.closed = true;
    this.watch?.close();
    this.removeAllListeners();
  }

  /** The items in order, kept from now on if they were not yet. */
  private kept(): readonly KeptItem[] {
    this.start();
    return this.ordered;
  }

  private apply(change: StoreChange): void {
    switch (change.kind) {
      case 'added': {
        const item = this.add(change.message);
        if (item !== undefined) this.emit('added', item);
        break;
      }
      case 'expunged': {
        const removed = this.removeCopies(change.numbers.map((number) => messageRef(change.folder, number)));
        if (removed.length > 0) this.emit('removed', removed);
        break;
      }
      case 'flags': {
        const items = new Set(change.messages.map(({ number }) => this.byCopy.get(messageRef(change.folder, number))));
        for (const item of items) if (item !== undefined && this.recount(item)) this.emit('flags', item);
        break;
      }
      case 'folder':
        // Removed, renamed or made anew: its entries are not the ones kept. Rare enough to start over.
        if (change.change !== 'created') this.rebuild(true);
        break;
    }
  }

  /** Keeps a copy; returns its item when the item is new. */
  private add(message: IndexedMessage): KeptItem | undefined {
    if (this.byCopy.get(message) !== undefined) return undefined;
    const id = itemId(message);
    const known = this.byId.get(id);
    if (known === undefined) {
      const item: KeptItem = { id, copies: [message], read: false, tags: noTags };
      this.count(item, 1);
      this.byId.set(id, item);
      this.byCopy.set(message, item);
      insertSorted(this.ordered, item, byFirstCopy);
      return item;
    }
    this.byCopy.set(message, known);
    // A copy older than the first (found by a later scan) moves the item back.
    const moves = compareArrival(message, known.copies[0]) < 0;
    if (moves) this.ordered.splice(this.position(known), 1);
    insertSorted(known.copies, message, compareArrival);
    if (moves) insertSorted(this.ordered, known, byFirstCopy);
    this.recount(known);
    return undefined;
  }

  /** Forgets copies; returns the IDs of the items left without any. */
  private removeCopies(refs: readonly MessageRef[]): string[] {
    /** Items whose first copy goes: out of the order (found by that copy), back in if copies are left. */
    const displaced = new Map<KeptItem, number>();
    const touched: Array<[KeptItem, MessageRef]> = [];
    for (const ref of refs) {
      const item = this.byCopy.get(ref);
      if (item === undefined) continue;
      this.byCopy.delete(ref);
      touched.push([item, ref]);
      if (!displaced.has(item) && sameCopy(item.copies[0], ref)) displaced.set(item, this.position(item));
    }
    // One pass for many, a splice for a few (removing everything goes a folder at a time).
    if (displaced.size > 16) this.ordered = this.ordered.filter((item) => !displaced.has(item));
    else for (const at of [...displaced.values()].sort((a, b) => b - a)) this.ordered.splice(at, 1);
    const changed = new Set(touched.map(([item]) => item));
    for (const item of changed) this.count(item, -1);
    for (const [item, ref] of touched) {
      item.copies.splice(
        item.copies.findIndex((copy) => sameCopy(copy, ref)),
        1,
      );
    }
    for (const item of changed) if (item.copies.length > 0) this.count(item, 1);
    const emptied: string[] = [];
    for (const item of displaced.keys()) {
      if (item.copies.length > 0) insertSorted(this.ordered, item, byFirstCopy);
      else {
        this.byId.delete(item.id);
        emptied.push(item.id);
      }
    }
    return emptied;
  }

  /** Starts over from the index, telling listeners (if `announce`) which items came and went. */
  private rebuild(announce: boolean): void {
    const before = new Set(this.byId.keys());
    this.byId.clear();
    this.byCopy.clear();
    this.ordered = [];
    this.unread = 0;
    this.tagItems.clear();
    const added: KeptItem[] = [];
    for (const message of this.reader.allMessages()) {
      const item = this.add(message);
      if (item !== undefined && !before.has(item.id)) added.push(item);
    }
    if (!announce) return;
    for (const item of added) this.emit('added', item);
    const removed = [...before].filter((id) => !this.byId.has(id));
    if (removed.length > 0) this.emit('removed', removed);
  }

  /** The item's state worked out again from its copies, and the counts moved with it; true if it changed. */
  private recount(item: KeptItem): boolean {
    const { read, tags } = item;
    this.count(item, -1);
    this.count(item, 1);
    return item.read !== read || item.tags.join('\n') !== tags.join('\n');
  }

  /** Adds the item to the counts (`1`, its state worked out anew) or takes it out (`-1`, as last counted). */
  private count(item: KeptItem, sign: 1 | -1): void {
    if (sign === 1) {
      item.read = isRead(item);
      const tags = tagsOf(item);
      item.tags = tags.length === 0 ? noTags : tags;
    }
    if (!item.read) this.unread += sign;
    for (const tag of item.tags) {
      const items = (this.tagItems.get(tag) ?? 0) + sign;
      if (items === 0) this.tagItems.delete(tag);
      else this.tagItems.set(tag, items);
    }
  }

  /** Where `item` is in the order (its first copy is the one it was placed by). */
  private position(item: KeptItem): number {
    let at = lowerBound(this.ordered, (other) => byFirstCopy(other, item) < 0);
    while (at < this.ordered.length && this.ordered[at] !== item) at++;
    return at;
  }
}

function byFirstCopy(a: KeptItem, b: KeptItem): number {
  return compareArrival(a.copies[0], b.copies[0]);
}

/** Inserts after every element not greater than `value`: at the end, for what arrives in order. */
function insertSorted<T>(list: T[], value: T, compare: (a: T, b: T) => number): void {
  const last = list[list.length - 1];
  if (last === undefined || compare(last, value) <= 0) list.push(value);
  else
    list.splice(
      lowerBound(list, (other) => compare(other, value) <= 0),
      0,
      value,
    );
}

/** The first index whose element is not `before` (the list sorted so that `before` holds for a prefix). */
function lowerBound<T>(list: readonly T[], before: (element: T) => boolean): number {
  let low = 0;
  let high = list.length;
  while (low < high) {
    const middle = (low + high) >> 1;
    if (before(list[middle])) low = middle + 1;
    else high = middle;
  }
  return low;
}
