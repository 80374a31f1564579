/**
 * The in-process MessageSource: the store's index, its change stream, and its files. Parsed
 * messages are cached (a stored file never changes), so many waiters looking at the same
 * messages parse each one once; their flags are read from the index at each look.
 */
import type { MailReader, StoreChange } from '../mailbox/reader.js';
import { folderKey } from '../mailbox/message-index.js';
import { flagsView, parseMessage, type MessageMeta, type ParsedContent, type ParsedMessage } from './message.js';
import { messageKey, type MessageSource } from './source.js';

/** Parsed messages kept, by their raw size; the least recently used go first. */
const maxCachedBytes = 64 * 1024 * 1024;

interface CacheEntry {
  /** Its folder, as `folderKey` gives it. */
  readonly folder: string;
  readonly message: Promise<ParsedContent | undefined>;
  size: number;
  /** The message once parsed, for `peek`. */
  value?: ParsedContent;
}

export class StoreSource implements MessageSource {
  private readonly parsed = new Map<string, CacheEntry>();
  private cachedBytes = 0;
  /** Drops what the cache holds of messages that are gone, and of folders made anew. */
  private readonly onChange = (change: StoreChange) => this.forgetChanged(change);

  constructor(private readonly store: MailReader) {
    // Listening, not watching: forgetting can wait for the next look, which refreshes first.
    store.on('change', this.onChange);
  }

  subscribe(listener: (meta: MessageMeta) => void): () => void {
    const watch = this.store.watch('all', (change) => {
      if (change.kind === 'added') listener(change.message);
    });
    return () => watch.close();
  }

  /** What the index holds once it has looked for what other processes stored. */
  async list(): Promise<MessageMeta[]> {
    await this.store.refresh();
    return [...this.store.allMessages()];
  }

  async load(meta: MessageMeta): Promise<ParsedMessage | undefined> {
    const message = await this.parse(meta);
    return message && this.withFlags(message);
  }

  peek(meta: MessageMeta): ParsedMessage | undefined {
    const message = this.parsed.get(messageKey(meta))?.value;
    return message && this.withFlags(message);
  }

  async deleteAll(): Promise<void> {
    await this.store.removeAll();
  }

  /** Stops watching the store; pending waits are the client's business. */
  close(): void {
    this.store.off('change', this.onChange);
    this.parsed.clear();
    this.cachedBytes = 0;
  }

  /** Flags change; the rest of a parsed message does not. Undefined flags: it was removed meanwhile. */
  private withFlags(message: ParsedContent): ParsedMessage | undefined {
    const entry = this.store.message(message);
    return entry && { ...message, flags: flagsView(entry.flags) };
  }

  private parse(meta: MessageMeta): Promise<ParsedContent | undefined> {
    const key = messageKey(meta);
    const cached = this.parsed.get(key);
    if (cached) {
      this.parsed.delete(key);
      this.parsed.set(key, cached);
      return cached.message;
    }
    const entry: CacheEntry = { folder: folderKey(meta), message: this.read(meta), size: 0 };
    this.parsed.set(key, entry);
    // A failed read or parse is not cached: the next look tries again.
    entry.message.then(
      (message) => {
        if (this.parsed.get(key) !== entry) return;
        if (message === undefined) return this.forget(key);
        entry.size = message.size;
        entry.value = message;
        this.cachedBytes += entry.size;
        this.evict(key);
      },
      () => {
        if (this.parsed.get(key) === entry) this.forget(key);
      },
    );
    return entry.message;
  }

  private async read(meta: MessageMeta): Promise<ParsedContent | undefined> {
    const raw = await this.store.read(meta);
    return raw && parseMessage(raw, meta);
  }

  private forgetChanged(change: StoreChange): void {
    if (change.kind === 'expunged') {
      for (const number of change.numbers) this.forget(messageKey({ ...change.folder, number }));
    } else if (change.kind === 'folder' && change.change !== 'created') {
      const folder = folderKey(change.folder);
      for (const [key, entry] of [...this.parsed]) if (entry.folder === folder) this.forget(key);
    }
  }

  /** Drops the least recently used parsed messages until the cache fits (`keep` stays). */
  private evict(keep: string): void {
    for (const [key, entry] of this.parsed) {
      if (this.cachedBytes <= maxCachedBytes) return;
      if (key === keep) continue;
      this.parsed.delete(key);
      this.cachedBytes -= entry.size;
    }
  }

  private forget(key: string): void {
    const entry = this.parsed.get(key);
    if (!entry) return;
    this.parsed.delete(key);
    this.cachedBytes -= entry.size;
  }
}
