/**
 * A map keyed by folder (mailbox, then folder name). Looked up through the two names as they
 * are, not a key string joined from them: delivery looks folders up several times per copy, and
 * a joined key is a new string to flatten and hash every time (~0.4 us against ~0.06 us).
 */
import type { FolderRef } from './reader.js';

export class FolderMap<V> {
  private readonly byMailbox = new Map<string, Map<string, V>>();

  get(ref: FolderRef): V | undefined {
    return this.byMailbox.get(ref.mailbox)?.get(ref.folder);
  }

  has(ref: FolderRef): boolean {
    return this.byMailbox.get(ref.mailbox)?.has(ref.folder) ?? false;
  }

  set(ref: FolderRef, value: V): void {
    let folders = this.byMailbox.get(ref.mailbox);
    if (!folders) this.byMailbox.set(ref.mailbox, (folders = new Map<string, V>()));
    folders.set(ref.folder, value);
  }

  delete(ref: FolderRef): void {
    const folders = this.byMailbox.get(ref.mailbox);
    if (!folders?.delete(ref.folder)) return;
    if (folders.size === 0) this.byMailbox.delete(ref.mailbox);
  }

  clear(): void {
    this.byMailbox.clear();
  }

  /** The mailboxes with at least one value. */
  mailboxes(): IterableIterator<string> {
    return this.byMailbox.keys();
  }

  /** The values of one mailbox's folders. */
  valuesOf(mailbox: string): IterableIterator<V> {
    return this.byMailbox.get(mailbox)?.values() ?? ([] as V[]).values();
  }

  *values(): IterableIterator<V> {
    for (const folders of this.byMailbox.values()) yield* folders.values();
  }
}
