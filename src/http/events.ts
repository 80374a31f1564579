/**
 * Mailpit's event stream (`/api/events`, server/websockets in Mailpit): the store's changes as
 * `{ Type, Data }` frames about items: `new` (a summary) once per transaction however many
 * copies it has, `update` (`{ ID, Read, Tags }`), `delete` (`{ ID }`) when the last copy of an
 * item goes, `truncate` when the last item does, and `stats` (`{ Total, Unread, Version }`) on
 * connecting and at most four times a second after changes.
 */
import type { FastifyInstance } from 'fastify';
import type { Logger } from '../log.js';
import type { IndexedMessage, MailReader, StoreChange } from '../mailbox/reader.js';
import { findItem, isRead, itemId, tagsOf } from './items.js';
import { messageSummary } from './mailpit.js';
import type { HttpContext } from './server.js';
import { MailView } from './view.js';

export type MailpitEvent =
  | { readonly Type: 'new'; readonly Data: ReturnType<typeof messageSummary> }
  | { readonly Type: 'update'; readonly Data: { ID: string; Read: boolean; Tags: string[] } }
  | { readonly Type: 'delete'; readonly Data: { ID: string } }
  | { readonly Type: 'truncate' | 'prune'; readonly Data: null }
  | { readonly Type: 'stats'; readonly Data: { Total: number; Unread: number; Version: string } };

const statsInterval = 250;

const copyKey = (ref: { mailbox: string; folder: string; number: number }) =>
  `${ref.number}\n${ref.folder}\n${ref.mailbox}`;

export class EventHub {
  private readonly view: MailView;
  private readonly listeners = new Set<(event: MailpitEvent) => void>();
  /** Which item each copy belongs to, and how many copies each item has: what a change names is a copy. */
  private itemOfCopy = new Map<string, string>();
  private copiesOfItem = new Map<string, number>();
  private readonly watch;
  /** Frames go out in the order of the changes, though a `new` waits for its summary. */
  private queue: Promise<void> = Promise.resolve();
  private statsTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly reader: MailReader,
    private readonly log?: Logger,
    private readonly version = '',
  ) {
    this.view = new MailView(reader);
    this.watch = reader.watch('all', (change) => this.onChange(change));
    for (const message of this.watch.snapshot) this.track(message);
  }

  subscribe(listener: (event: MailpitEvent) => void): () => void {
    const wrapped = (event: MailpitEvent) => listener(event);
    this.listeners.add(wrapped);
    wrapped(this.stats());
    return () => this.listeners.delete(wrapped);
  }

  /** Sent by routes for what no single change tells (a tag renamed or deleted everywhere). */
  broadcast(event: MailpitEvent): void {
    this.enqueue(() => event);
  }

  close(): void {
    this.watch.close();
    clearTimeout(this.statsTimer);
    this.listeners.clear();
  }

  private onChange(change: StoreChange): void {
    switch (change.kind) {
      case 'added':
        if (this.track(change.message)) this.announce(change.message);
        break;
      case 'flags':
        for (const id of new Set(
          change.messages.map(({ number }) => this.itemOfCopy.get(copyKey({ ...change.folder, number }))),
        ))
          if (id !== undefined) this.enqueue(() => this.update(id));
        break;
      case 'expunged':
        this.forget(change.numbers.map((number) => copyKey({ ...change.folder, number })));
        break;
      case 'folder':
        this.resync();
        break;
    }
    this.scheduleStats();
  }

  /** Counts a copy in; true when it is its item's first. */
  private track(message: IndexedMessage): boolean {
    const key = copyKey(message);
    if (this.itemOfCopy.has(key)) return false;
    const id = itemId(message);
    this.itemOfCopy.set(key, id);
    const copies = this.copiesOfItem.get(id) ?? 0;
    this.copiesOfItem.set(id, copies + 1);
    return copies === 0;
  }

  private announce(message: IndexedMessage): void {
    if (this.listeners.size === 0) return;
    const id = itemId(message);
    const summarized = findItem(this.reader, id);
    const ready = summarized === undefined ? undefined : this.view.summarize(summarized);
    this.enqueue(async () => {
      const entry = await ready;
      return entry === undefined ? undefined : { Type: 'new', Data: messageSummary(entry.item, entry.summary) };
    });
  }

  private update(id: string): MailpitEvent | undefined {
    const item = findItem(this.reader, id);
    return item === undefined
      ? undefined
      : { Type: 'update', Data: { ID: id, Read: isRead(item), Tags: tagsOf(item) } };
  }

  private forget(keys: readonly string[]): void {
    const gone: string[] = [];
    for (const key of keys) {
      const id = this.itemOfCopy.get(key);
      if (id === undefined) continue;
      this.itemOfCopy.delete(key);
      const left = (this.copiesOfItem.get(id) ?? 1) - 1;
      if (left > 0) this.copiesOfItem.set(id, left);
      else {
        this.copiesOfItem.delete(id);
        gone.push(id);
      }
    }
    if (gone.length === 0) return;
    if (this.copiesOfItem.size === 0) this.enqueue(() => ({ Type: 'truncate', Data: null }));
    else for (const id of gone) this.enqueue(() => ({ Type: 'delete', Data: { ID: id } }));
  }

  /** A folder created, removed or renamed: the copies are counted again, and what changed is told. */
  private resync(): void {
    const before = new Set(this.copiesOfItem.keys());
    this.itemOfCopy = new Map();
    this.copiesOfItem = new Map();
    const firsts = this.reader.allMessages().filter((message) => this.track(message));
    for (const message of firsts) if (!before.has(itemId(message))) this.announce(message);
    const gone = [...before].filter((id) => !this.copiesOfItem.has(id));
    for (const id of gone) this.enqueue(() => ({ Type: 'delete', Data: { ID: id } }));
  }

  private stats(): MailpitEvent {
    const { total, unread } = this.view.counts();
    return { Type: 'stats', Data: { Total: total, Unread: unread, Version: this.version } };
  }

  private scheduleStats(): void {
    if (this.statsTimer !== undefined || this.listeners.size === 0) return;
    this.statsTimer = setTimeout(() => {
      this.statsTimer = undefined;
      this.enqueue(() => this.stats());
    }, statsInterval);
  }

  private enqueue(make: () => MailpitEvent | undefined | Promise<MailpitEvent | undefined>): void {
    if (this.listeners.size === 0) return;
    this.queue = this.queue
      .then(make)
      .then((event) => {
        if (event !== undefined) for (const listener of this.listeners) listener(event);
      })
      .catch((error: unknown) => this.log?.error(`Event stream: ${String(error)}`));
  }
}

export function registerEvents(app: FastifyInstance, context: HttpContext): void {
  app.get('/api/events', { websocket: true, schema: { hide: true } }, (socket) => {
    const unsubscribe = context.events.subscribe((event) => socket.send(JSON.stringify(event)));
    socket.on('close', unsubscribe);
    // Nothing a client sends is read; a client that keeps sending is told to stop.
    socket.on('message', () => socket.close(1008, 'this stream only sends'));
  });
}
