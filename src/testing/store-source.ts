/**
 * The in-process MessageSource: the store's index, its change stream, and its files. Parsed
 * messages are cached (a stored file never changes), so many waiters looking at the same
 * messages parse each one once; their flags are read from the index at each look.
 */
import type { MailReader, StoreChange } from '../mailbox/reader.js';
import { folderKey, messageRef } from '../mailbox/message-index.js';
import { flagsView, parseMessage, type MessageMeta, type ParsedContent, type ParsedMessage } from './message.js';
import { ParsedCache } from './parsed-cache.js';
import { messageKey, type MessageSource } from './source.js';

export class StoreSource implements MessageSource {
  private readonly parsed = new ParsedCache<ParsedContent>();
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

  peek(meta: MessageMeta): ParsedContent | undefined {
    return this.parsed.peek(messageKey(meta));
  }

  async deleteAll(): Promise<void> {
    await this.store.removeAll();
  }

  /** Stops watching the store; pending waits are the client's business. */
  close(): void {
    this.store.off('change', this.onChange);
    this.parsed.clear();
  }

  /** Flags change; the rest of a parsed message does not. Undefined flags: it was removed meanwhile. */
  private withFlags(message: ParsedContent): ParsedMessage | undefined {
    const entry = this.store.message(message);
    return entry && { ...message, flags: flagsView(entry.flags) };
  }

  private parse(meta: MessageMeta): Promise<ParsedContent | undefined> {
    return this.parsed.get(messageKey(meta), folderKey(meta), () => this.read(meta));
  }

  private async read(meta: MessageMeta): Promise<ParsedContent | undefined> {
    const raw = await this.store.read(meta);
    return raw && parseMessage(raw, meta);
  }

  private forgetChanged(change: StoreChange): void {
    if (change.kind === 'expunged') {
      for (const number of change.numbers) this.parsed.forget(messageKey(messageRef(change.folder, number)));
    } else if (change.kind === 'folder' && change.change !== 'created') {
      this.parsed.forgetFolder(folderKey(change.folder));
    }
  }
}
