/**
 * Mailpit's event stream (`/api/events`, server/websockets in Mailpit): the store's changes as
 * `{ Type, Data }` frames about items: `new` (a summary) once per transaction however many
 * copies it has, `update` (`{ ID, Read, Tags }`), `delete` (`{ ID }`) when the last copy of an
 * item goes, `truncate` when the last item does, and `stats` (`{ Total, Unread, Version }`) on
 * connecting and at most four times a second after changes.
 */
import type { FastifyInstance } from 'fastify';
import type { Logger } from '../log.js';
import type { ItemIndex } from './item-index.js';
import { isRead, tagsOf, type Item } from './items.js';
import { messageSummary } from './mailpit.js';
import type { HttpContext } from './server.js';
import type { MailView } from './view.js';

export type MailpitEvent =
  | { readonly Type: 'new'; readonly Data: ReturnType<typeof messageSummary> }
  | { readonly Type: 'update'; readonly Data: { ID: string; Read: boolean; Tags: string[] } }
  | { readonly Type: 'delete'; readonly Data: { ID: string } }
  | { readonly Type: 'truncate' | 'prune'; readonly Data: null }
  | { readonly Type: 'stats'; readonly Data: { Total: number; Unread: number; Version: string } };

const statsInterval = 250;

export class EventHub {
  private readonly listeners = new Set<(event: MailpitEvent) => void>();
  /** Frames go out in the order of the changes, though a `new` waits for its summary. */
  private queue: Promise<void> = Promise.resolve();
  private statsTimer: NodeJS.Timeout | undefined;
  private readonly onAdded = (item: Item) => {
    this.announce(item);
    this.scheduleStats();
  };
  private readonly onFlags = (item: Item) => {
    this.enqueue(() => ({ Type: 'update', Data: { ID: item.id, Read: isRead(item), Tags: tagsOf(item) } }));
    this.scheduleStats();
  };
  private readonly onRemoved = (ids: readonly string[]) => {
    this.removed(ids);
    this.scheduleStats();
  };

  constructor(
    private readonly items: ItemIndex,
    private readonly view: MailView,
    private readonly log?: Logger,
    private readonly version = '',
  ) {
    items.on('added', this.onAdded);
    items.on('flags', this.onFlags);
    items.on('removed', this.onRemoved);
  }

  subscribe(listener: (event: MailpitEvent) => void): () => void {
    this.items.start();
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
    this.items.off('added', this.onAdded);
    this.items.off('flags', this.onFlags);
    this.items.off('removed', this.onRemoved);
    clearTimeout(this.statsTimer);
    this.listeners.clear();
  }

  private announce(item: Item): void {
    if (this.listeners.size === 0) return;
    const ready = this.view.summarize(item);
    this.enqueue(async () => {
      const entry = await ready;
      return entry === undefined ? undefined : { Type: 'new', Data: messageSummary(entry.item, entry.summary) };
    });
  }

  private removed(ids: readonly string[]): void {
    if (this.items.size === 0) this.enqueue(() => ({ Type: 'truncate', Data: null }));
    else for (const id of ids) this.enqueue(() => ({ Type: 'delete', Data: { ID: id } }));
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

  /** Queues a frame for every listener. */
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
