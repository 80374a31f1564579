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

/** Deliveries whose envelope is remembered; older ones fall back to their trace lines. */
const maxRemembered = 100_000;
/** Parsed messages kept, by their raw size; the least recently used go first. */
const maxCachedBytes = 64 * 1024 * 1024;

export class StoreSource implements MessageSource {
  private readonly listeners = new Set<(meta: MessageMeta) => void>();
  private readonly delivered = new Map<string, MessageMeta>();
  private readonly parsed = new Map<string, { message: Promise<ParsedMessage | undefined>; size: number }>();
  private cachedBytes = 0;

  private readonly onDelivered = (stored: StoredMessage): void => {
    const meta: MessageMeta = { mailbox: stored.mailbox, number: stored.number, envelope: stored.envelope, receivedAt: stored.receivedAt, size: stored.size };
    const key = messageKey(meta);
    this.forget(key);
    this.delivered.set(key, meta);
    if (this.delivered.size > maxRemembered) this.delivered.delete(this.delivered.keys().next().value!);
    for (const listener of this.listeners) listener(meta);
  };

  private readonly onExpunged = ({ mailbox, numbers }: { mailbox: string; numbers: readonly number[] }): void => {
    for (const number of numbers) {
      const key = messageKey({ mailbox, number });
      this.delivered.delete(key);
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

  async list(): Promise<MessageMeta[]> {
    const found: Array<MessageMeta | Promise<MessageMeta | undefined>> = [];
    for (const mailbox of await this.store.mailboxes()) {
      for (const number of this.store.list(mailbox)) {
        const known = this.delivered.get(messageKey({ mailbox, number }));
        // Stored before we watched (a reused MAIL_DIR, another process): its trace lines tell.
        found.push(known ?? this.parse(mailbox, number));
      }
    }
    const metas = (await Promise.all(found)).filter((meta) => meta !== undefined);
    return metas.map((meta) => ({ mailbox: meta.mailbox, number: meta.number, envelope: meta.envelope, receivedAt: meta.receivedAt, size: meta.size })).sort(compareMeta);
  }

  load(meta: MessageMeta): Promise<ParsedMessage | undefined> {
    return this.parse(meta.mailbox, meta.number, this.delivered.get(messageKey(meta)));
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

  private parse(mailbox: string, number: number, meta?: MessageMeta): Promise<ParsedMessage | undefined> {
    const key = messageKey({ mailbox, number });
    const cached = this.parsed.get(key);
    if (cached) {
      this.parsed.delete(key);
      this.parsed.set(key, cached);
      return cached.message;
    }
    const entry = { message: this.read(mailbox, number, meta), size: 0 };
    this.parsed.set(key, entry);
    // A failed read or parse is not cached: the next look tries again.
    entry.message.then(
      (message) => {
        if (this.parsed.get(key) !== entry) return;
        if (message === undefined) return this.forget(key);
        entry.size = message.size;
        this.cachedBytes += entry.size;
        this.evict(key);
      },
      () => {
        if (this.parsed.get(key) === entry) this.forget(key);
      },
    );
    return entry.message;
  }

  private async read(mailbox: string, number: number, meta: MessageMeta | undefined): Promise<ParsedMessage | undefined> {
    const raw = await this.store.read(mailbox, number);
    if (raw === undefined) return undefined;
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
