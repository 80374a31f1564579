/**
 * Sessions without sockets or disks: an in-memory Connection whose client side a test drives,
 * and a fake MailDelivery that records what it is given and settles when the test says.
 * Beside the real-socket tests, not instead of them.
 */
import { EventEmitter } from 'node:events';
import { createLogger, type Logger } from '../../src/log.js';
import { toMailbox, type AddressCheck } from '../../src/mailbox/address.js';
import type { Envelope } from '../../src/mailbox/store.js';
import type { Trace } from '../../src/mailbox/trace.js';
import type { Connection, ConnectionEvents } from '../../src/smtp/connection.js';
import type { IncomingBody, MailDelivery } from '../../src/smtp/delivery.js';
import type { Gate } from '../../src/smtp/gate.js';
import { SmtpSession, type SessionSettings } from '../../src/smtp/session.js';

const noEvents: ConnectionEvents = { data: () => {}, drain: () => {}, close: () => {}, error: () => {} };

/**
 * The server's end is the Connection; the test plays the client with `send`, `reply`, `read`
 * and `hangUp`. Like a socket, it delivers no data while paused and reports the close once,
 * asynchronously. Writes return false once more than `capacity` bytes are unread.
 */
export class MemoryConnection implements Connection {
  readonly remoteAddress = '192.0.2.7';
  secure = false;
  paused = false;
  /** How the server ended it, if it did. */
  ended: 'conversation over' | 'lingering' | 'destroyed' | undefined;
  /** Bytes written by the server that the client has not read (see `read`). */
  unread = 0;
  /** Client bytes handed to the session so far. */
  delivered = 0;
  /** Number of write calls. */
  writes = 0;
  onIdle: (() => void) | undefined;
  private events = noEvents;
  private readonly inbox: Buffer[] = [];
  private isClosed = false;
  private text = '';
  private lines: string[] = [];
  private readonly replies: string[] = [];
  private readonly waiting: Array<(reply: string) => void> = [];
  private readonly pausedAt: Array<() => void> = [];

  constructor(readonly capacity = Infinity) {}

  // ---- the server's side ----

  listen(events: ConnectionEvents): void {
    this.events = events;
  }

  write(text: string): boolean {
    if (this.isClosed) throw new Error('write after close');
    this.writes++;
    this.unread += text.length;
    this.parse(text);
    return this.unread <= this.capacity;
  }

  pause(): void {
    this.paused = true;
    for (const resolve of this.pausedAt.splice(0)) resolve();
  }

  resume(): void {
    this.paused = false;
    // A socket resumes on a later tick, never inside the caller.
    queueMicrotask(() => this.flow());
  }

  setIdleTimeout(_ms: number, onIdle: () => void): void {
    this.onIdle = onIdle;
  }

  end(conversationOver: boolean): void {
    this.ended = conversationOver ? 'conversation over' : 'lingering';
    this.close();
  }

  destroy(): void {
    this.ended ??= 'destroyed';
    this.close();
  }

  startTls(): void {
    this.secure = true;
  }

  // ---- the client's side ----

  /** Sends bytes (a string gets no CRLF added). */
  send(data: string | Buffer): void {
    this.inbox.push(typeof data === 'string' ? Buffer.from(data, 'utf8') : data);
    this.flow();
  }

  /** Sends one command line. */
  command(line: string): Promise<string> {
    this.send(`${line}\r\n`);
    return this.reply();
  }

  /** The next complete reply (multi-line ones joined with \n). */
  reply(): Promise<string> {
    const ready = this.replies.shift();
    if (ready !== undefined) return Promise.resolve(ready);
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  /** Every reply received and not yet taken. */
  takeReplies(): string[] {
    return this.replies.splice(0);
  }

  /** The client reads what was written: writing may go on. */
  read(): void {
    this.unread = 0;
    this.events.drain();
  }

  /** Bytes sent but not handed to the session (it paused). */
  get pending(): number {
    return this.inbox.reduce((sum, chunk) => sum + chunk.length, 0);
  }

  /** Resolves the next time the session pauses its input. */
  nextPause(): Promise<void> {
    return new Promise((resolve) => this.pausedAt.push(resolve));
  }

  hangUp(): void {
    this.close();
  }

  get closed(): boolean {
    return this.isClosed;
  }

  private flow(): void {
    while (!this.paused && !this.isClosed && this.inbox.length > 0) {
      const chunk = this.inbox.shift()!;
      this.delivered += chunk.length;
      this.events.data(chunk);
    }
  }

  private close(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    queueMicrotask(() => this.events.close());
  }

  private parse(text: string): void {
    this.text += text;
    let end;
    while ((end = this.text.indexOf('\r\n')) >= 0) {
      const line = this.text.slice(0, end);
      this.text = this.text.slice(end + 2);
      this.lines.push(line);
      if (/^\d{3}-/.test(line)) continue;
      const reply = this.lines.join('\n');
      this.lines = [];
      const waiter = this.waiting.shift();
      if (waiter) waiter(reply);
      else this.replies.push(reply);
    }
  }
}

/** A body that keeps its chunks; `behind` makes writes ask for a wait, `catchUp` ends it. */
export class FakeBody extends EventEmitter<{ drain: []; error: [Error] }> implements IncomingBody {
  size = 0;
  behind = false;
  discarded = false;
  private readonly chunks: Buffer[] = [];

  write(chunk: Buffer): boolean {
    this.size += chunk.length;
    this.chunks.push(Buffer.from(chunk));
    return !this.behind;
  }

  catchUp(): void {
    this.behind = false;
    this.emit('drain');
  }

  discard(): Promise<void> {
    this.discarded = true;
    this.chunks.length = 0;
    this.emit('drain');
    return Promise.resolve();
  }

  get bytes(): Buffer {
    return Buffer.concat(this.chunks);
  }
}

export interface DeliverCall {
  readonly envelope: { readonly from: string; readonly to: readonly string[] };
  readonly trace: Trace;
  readonly bytes: Buffer;
  resolve(): void;
  reject(error: Error): void;
}

/** The store's port, faked: addresses are checked by the store's own rules, deliveries recorded. */
export class FakeDelivery implements MailDelivery {
  readonly bodies: FakeBody[] = [];
  readonly calls: DeliverCall[] = [];
  /** Deliveries settle at once (stored) unless held; held ones wait for the test. */
  hold = false;
  private readonly called: Array<(call: DeliverCall) => void> = [];

  check(address: string): AddressCheck {
    return toMailbox(address);
  }

  receive(): FakeBody {
    const body = new FakeBody();
    this.bodies.push(body);
    return body;
  }

  deliver(body: IncomingBody, envelope: Envelope, trace: Trace): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const call: DeliverCall = {
        envelope: { from: envelope.from, to: envelope.to.map((r) => r.address) },
        trace,
        bytes: (body as FakeBody).bytes,
        resolve: () => resolve([]),
        reject,
      };
      this.calls.push(call);
      this.called.shift()?.(call);
      if (!this.hold) call.resolve();
    });
  }

  /** The next call to deliver from now on. */
  nextCall(): Promise<DeliverCall> {
    return new Promise((resolve) => this.called.push(resolve));
  }
}

export interface MemorySession {
  readonly session: SmtpSession;
  readonly client: MemoryConnection;
  readonly delivery: FakeDelivery;
  /** Log lines written so far (at DEBUG). */
  readonly log: string[];
}

export interface MemoryOptions extends Partial<Omit<SessionSettings, 'store' | 'log'>> {
  readonly capacity?: number;
}

export const serverName = 'mx.memory.test';

/** A session over a MemoryConnection, its greeting already read. */
export async function memorySession(options: MemoryOptions = {}): Promise<MemorySession> {
  const { capacity, ...settings } = options;
  const client = new MemoryConnection(capacity);
  const delivery = new FakeDelivery();
  const log: string[] = [];
  const logger: Logger = createLogger('debug', (line) => log.push(line));
  const session = new SmtpSession(client, {
    store: delivery,
    log: logger,
    serverName,
    maxMessageSize: 10_000,
    maxRecipients: 5,
    idleTimeoutMs: 60_000,
    startTls: undefined,
    gate: undefined as Gate | undefined,
    ...settings,
  });
  await client.reply();
  return { session, client, delivery, log };
}
