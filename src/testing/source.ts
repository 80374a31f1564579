/**
 * Where a test's messages come from. The waiter and the client only use this interface, so
 * the same API runs against the in-process store (StoreSource) or a server over HTTP.
 */
import type { MessageMeta, ParsedContent, ParsedMessage } from './message.js';

export interface MessageSource {
  /**
   * Calls `listener` for every message stored from now on (synchronously or not), until the
   * returned function is called.
   */
  subscribe(listener: (meta: MessageMeta) => void): () => void;
  /** Every message stored now, oldest first (by arrival, then mailbox, folder and number). */
  list(): Promise<MessageMeta[]>;
  /** The parsed message; undefined if it was deleted meanwhile. May be cached: treat it as read-only. */
  load(meta: MessageMeta): Promise<ParsedMessage | undefined>;
  /**
   * The parsed message without its flags (no filter looks at them) if it is at hand now (cached),
   * without waiting: lets a waiter judge many quickly, and load only those that match.
   */
  peek?(meta: MessageMeta): ParsedContent | undefined;
  /** Deletes every stored message. */
  deleteAll(): Promise<void>;
}

/**
 * Each meta's key, made once: the store's metas are its index entries, which a wait looks at
 * all of, and a key made again must be hashed again at each look-up.
 */
const keys = new WeakMap<object, string>();

/** A stored copy's identity: mailbox, folder and MH number. */
export function messageKey(meta: Pick<MessageMeta, 'mailbox' | 'folder' | 'number'>): string {
  let key = keys.get(meta);
  if (key === undefined) keys.set(meta, (key = `${meta.number} ${meta.folder} ${meta.mailbox}`));
  return key;
}
