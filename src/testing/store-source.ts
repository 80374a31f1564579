/**
 * The in-process MessageSource: the MH store's messages and its 'delivered' events.
 *
 * Created when the server starts, it remembers each delivery's envelope (every recipient) and
 * exact arrival time, which the file alone does not carry. Parsed messages are cached (each
 * stored file is immutable, and MH numbers are never reused), so many waiters looking at the
 * same messages parse each one once.
 */
import type { MailStore, StoredMessage } from '../mailbox/store.js';
import { parseMessage, type MessageMeta, type ParsedMessage } from './message.js';
import { compareMeta, messageKey, type MessageSource } from './source.js';

/** Deliveries remembered before anyone lists (a CLI server may never be asked); older ones fall back to their trace lines. */
const maxRemembered = 10_000;
/** Parsed messages kept, by their raw size; the least recently used go first. */
const maxCachedBytes = 64 * 1024 * 1024;

interface CacheEntry {
  readonly message: Promise<ParsedMessage | undefined>;
  size: number;
  /** The message once parsed, for `peek`. */
  value?: ParsedMessage;
}

export class StoreSource implements MessageSource {
  private readonly listeners = new Set<(meta: MessageMeta) => void>();
  /** Stored copies we know of: those delivered while we watched, plus, once scanned, all of MAIL_DIR. */
  private readonly known = new Map<string, MessageMeta>();
  /** The one scan of MAIL_DIR; after it, `known` is kept complete by the store's events alone. */
  private scanned: Promise<void> | undefined;
  private complete = false;
  private readonly parsed = new Map<string, CacheEntry>();
  private cachedBytes = 0;

  private readonly onDelivered = (stored: StoredMessage): void => {
    const meta: MessageMeta = {
      mailbox: stored.mailbox,
      number: stored.number,
      envelope: stored.envelope,
      receivedAt: stored.receivedAt,
      size: stored.size,
    };
    const key = messageKey(meta);
    this.forget(key);
    this.known.set(key, meta);
    if (!this.complete && this.known.size > maxRemembered) this.known.delete(this.known.keys().next().value!);
    for (const listener of this.listeners) listener(meta);
  };

  private readonly onExpunged = ({ mailbox, numbers }: { mailbox: string; numbers: readonly number[] }): void => {
    for (const number of numbers) {
      const key = messageKey({ mailbox, number });
      this.known.delete(key);
      this.forget(key);
    }
  };

  constructor(private readonly store: MailStore) {
    store.on('delivered', this.onDelivered);
    store.on('expunged', this.onExpunged);
  }

  subscribe(listener: (meta: MessageMeta) => void): () => void {
    // A wrapper, so one function subscribed twice still gets (and drops) two subscriptions.
    const wrapped = (meta: MessageMeta) => listener(meta);
    this.listeners.add(wrapped);
    return () => this.listeners.delete(wrapped);
  }

  /**
   * From memory after the first call, so waiting stays fast however much mail is stored.
   * Messages that other processes add to MAIL_DIR after that first scan are not seen.
   */
  async list(): Promise<MessageMeta[]> {
    await (this.scanned ??= this.scan());
    return [...this.known.values()].sort(compareMeta);
  }

  load(meta: MessageMeta): Promise<ParsedMessage | undefined> {
    return this.parse(meta.mailbox, meta.number, this.known.get(messageKey(meta)));
  }

  peek(meta: MessageMeta): ParsedMessage | undefined {
    return this.parsed.get(messageKey(meta))?.value;
  }

  async deleteAll(): Promise<void> {
    await this.store.removeAll();
  }

  /** Stops listening to the store; pending waits are the client's business. */
  close(): void {
    this.store.off('delivered', this.onDelivered);
    this.store.off('expunged', this.onExpunged);
    this.listeners.clear();
    this.parsed.clear();
    this.cachedBytes = 0;
  }

  private async scan(): Promise<void> {
    const found: Array<Promise<ParsedMessage | undefined>> = [];
    for (const mailbox of await this.store.mailboxes()) {
      for (const number of this.store.list(mailbox)) {
        // Stored before we watched (a reused MAIL_DIR, another process): its trace lines tell.
        if (!this.known.has(messageKey({ mailbox, number }))) found.push(this.parse(mailbox, number));
      }
    }
    for (const message of await Promise.all(found)) {
      if (message === undefined) continue;
      const { mailbox, number, envelope, receivedAt, size } = message;
      // A delivery event that came in meanwhile knows more (every recipient, exact time).
      if (!this.known.has(messageKey(message)))
        this.known.set(messageKey(message), { mailbox, number, envelope, receivedAt, size });
    }
    this.complete = true;
  }

  private parse(mailbox: string, number: number, meta?: MessageMeta): Promise<ParsedMessage | undefined> {
    const key = messageKey({ mailbox, number });
    const cached = this.parsed.get(key);
    if (cached) {
      this.parsed.delete(key);
      this.parsed.set(key, cached);
      return cached.message;
    }
    const entry: CacheEntry = { message: this.read(mailbox, number, meta), size: 0 };
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

  private async read(
    mailbox: string,
    number: number,
    meta: MessageMeta | undefined,
  ): Promise<ParsedMessage | undefined> {
    const raw = await this.store.read(mailbox, number);
    if (raw === undefined) {
      // Deleted from outside (rm): forget it.
      this.known.delete(messageKey({ mailbox, number }));
      return undefined;
    }
    return parseMessage(raw, mailbox, number, meta);
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
