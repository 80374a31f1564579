/**
 * A MessageSource over a server's HTTP API (`/api/tms`, see src/http/routes/toolkit.ts), for a
 * server in another process. Arrivals ride one WebSocket (`/api/tms/events`), opened on first
 * use; a list waits until the server says it watches, so nothing stored in between is missed
 * (the waiter drops what it is told twice). Parsing happens on the server, with the same code;
 * parsed messages are kept here as the in-process source keeps them, their flags kept current
 * by the same stream (a message whose flags change while it is being fetched is fetched again).
 */
import WebSocket from 'ws';
import { ChaosRuleError } from '../chaos/rule.js';
import { httpErrorCodes, type HttpErrorCode } from '../errors.js';
import {
  messageFromJson,
  metaFromJson,
  type MessageMetaJson,
  type ParsedMessageJson,
  type RemoteMeta,
} from './message-json.js';
import { folderKey } from '../mailbox/message-index.js';
import { MailClientClosedError } from './client.js';
import type { MessageFlags, MessageMeta, ParsedContent, ParsedMessage } from './message.js';
import { ParsedCache } from './parsed-cache.js';
import { messageKey, type MessageSource } from './source.js';

/**
 * An HTTP API call that failed: the server's text and code (one of `httpErrorCodes`) and status,
 * or TMS_UNREACHABLE when nothing answered or what answered is not this API.
 */
export class MailServerRequestError extends Error {
  override readonly name = 'MailServerRequestError';
  constructor(
    message: string,
    readonly code: HttpErrorCode | 'TMS_UNREACHABLE',
    readonly status: number | undefined,
  ) {
    super(message);
  }
}

export interface HttpSourceOptions {
  /** Sent with every request (basic auth). */
  readonly headers?: Readonly<Record<string, string>>;
}

/** What `/api/tms/events` sends; see its route. */
type CopyEvent =
  | { readonly type: 'ready' }
  | { readonly type: 'added'; readonly message: MessageMetaJson }
  | {
      readonly type: 'flags';
      readonly mailbox: string;
      readonly folder: string;
      readonly messages: ReadonlyArray<{ readonly number: number; readonly flags: MessageFlags }>;
    }
  | { readonly type: 'expunged'; readonly mailbox: string; readonly folder: string; readonly numbers: number[] }
  | { readonly type: 'folder'; readonly mailbox: string; readonly folder: string };

interface Kept {
  readonly content: ParsedContent;
  readonly size: number;
  flags: MessageFlags;
}

export class HttpSource implements MessageSource {
  private readonly listeners = new Set<(meta: MessageMeta) => void>();
  /** The event stream, resolved once the server watches; undefined until needed or after it closed. */
  private events: Promise<WebSocket> | undefined;
  /** True while the stream is open past `ready`: only then are kept messages told of their changes. */
  private live = false;
  private readonly kept = new ParsedCache<Kept>();
  private closed = false;

  constructor(
    /** The server's base URL, e.g. `http://127.0.0.1:8080`, without a trailing slash. */
    private readonly base: string,
    private readonly options: HttpSourceOptions = {},
  ) {}

  subscribe(listener: (meta: MessageMeta) => void): () => void {
    this.listeners.add(listener);
    // Opening starts now; `list` waits for it. A failure to connect is reported there.
    this.stream().catch(() => {});
    return () => this.listeners.delete(listener);
  }

  async list(): Promise<MessageMeta[]> {
    await this.stream();
    const { messages } = (await this.request('GET', '/api/tms/messages')) as { messages: MessageMetaJson[] };
    return messages.map(metaFromJson);
  }

  async load(meta: MessageMeta): Promise<ParsedMessage | undefined> {
    const { id } = meta as Partial<RemoteMeta>;
    if (id === undefined) return undefined;
    const kept = this.live
      ? await this.kept.get(messageKey(meta), folderKey(meta), () => this.fetch(id))
      : await this.fetch(id);
    return kept && { ...kept.content, flags: kept.flags };
  }

  peek(meta: MessageMeta): ParsedContent | undefined {
    return this.live ? this.kept.peek(messageKey(meta))?.content : undefined;
  }

  async deleteAll(): Promise<void> {
    await this.request('DELETE', '/api/tms/messages');
  }

  /** One API call; resolves with the JSON answer, rejects with a MailServerRequestError (a ChaosRuleError for a bad rule). */
  async request(method: string, path: string, body?: unknown): Promise<unknown> {
    let response: Response;
    try {
      response = await fetch(`${this.base}${path}`, {
        method,
        headers: { ...this.options.headers, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (error) {
      const cause = (error as { cause?: { code?: string; message?: string } }).cause;
      throw new MailServerRequestError(
        `Cannot reach the mail server at ${this.base}: ${cause?.code ?? cause?.message ?? String(error)}`,
        'TMS_UNREACHABLE',
        undefined,
      );
    }
    const text = await response.text();
    const json = parseJson(text);
    if (response.status === 200 && json !== undefined) return json;
    const { Error: message = text, code } = (json ?? {}) as { Error?: string; code?: string };
    if (code === 'TMS_CHAOS_RULE') throw new ChaosRuleError(message);
    const known = code !== undefined && Object.hasOwn(httpErrorCodes, code) ? (code as HttpErrorCode) : undefined;
    throw new MailServerRequestError(
      `${method} ${path}: ${response.status} ${message}${known ? '' : ` (is ${this.base} a test-mail-server?)`}`,
      known ?? 'TMS_UNREACHABLE',
      response.status,
    );
  }

  /** Closes the event stream; later calls fail. */
  close(): void {
    this.closed = true;
    this.listeners.clear();
    this.kept.clear();
    const events = this.events;
    this.events = undefined;
    void events?.then(
      (socket) => socket.close(),
      () => {},
    );
  }

  private async fetch(id: string): Promise<Kept | undefined> {
    let json: ParsedMessageJson;
    try {
      json = (await this.request('GET', `/api/tms/messages/${id}`)) as ParsedMessageJson;
    } catch (error) {
      // Deleted meanwhile.
      if (error instanceof MailServerRequestError && error.status === 404) return undefined;
      throw error;
    }
    const { flags, ...content } = messageFromJson(json);
    return { content, size: content.size, flags };
  }

  private apply(event: Exclude<CopyEvent, { type: 'ready' }>): void {
    switch (event.type) {
      case 'added': {
        const meta = metaFromJson(event.message);
        for (const listener of this.listeners) listener(meta);
        break;
      }
      case 'flags':
        for (const { number, flags } of event.messages) {
          const key = messageKey({ ...event, number });
          const kept = this.kept.peek(key);
          // One still being fetched may carry the flags from before: it is fetched again at the next look.
          if (kept) kept.flags = flags;
          else this.kept.forget(key);
        }
        break;
      case 'expunged':
        for (const number of event.numbers) this.kept.forget(messageKey({ ...event, number }));
        break;
      case 'folder':
        this.kept.forgetFolder(folderKey(event));
        break;
    }
  }

  private stream(): Promise<WebSocket> {
    if (this.closed) return Promise.reject(new MailClientClosedError());
    this.events ??= this.open();
    return this.events;
  }

  private open(): Promise<WebSocket> {
    const socket = new WebSocket(`${this.base.replace(/^http/, 'ws')}/api/tms/events`, {
      headers: this.options.headers,
    });
    const opened = new Promise<WebSocket>((resolve, reject) => {
      socket.on('message', (data: Buffer) => {
        const event = JSON.parse(data.toString('utf8')) as CopyEvent;
        if (event.type !== 'ready') return this.apply(event);
        this.live = true;
        resolve(socket);
      });
      socket.on('unexpected-response', (_request, response) => {
        reject(
          new MailServerRequestError(
            `The mail server at ${this.base} refused its event stream: ${response.statusCode}`,
            response.statusCode === 401 ? 'TMS_UNAUTHORIZED' : 'TMS_UNREACHABLE',
            response.statusCode,
          ),
        );
        socket.terminate();
      });
      socket.on('error', (error) =>
        reject(
          new MailServerRequestError(
            `Cannot reach the mail server at ${this.base}: ${error.message}`,
            'TMS_UNREACHABLE',
            undefined,
          ),
        ),
      );
      // Closed by the server (it stopped): the next wait opens a new stream. Before `ready`, the wait fails.
      socket.on('close', () => {
        if (this.events !== opened) return;
        this.events = undefined;
        // No longer told of changes: what is kept may go stale.
        this.live = false;
        this.kept.clear();
        reject(
          new MailServerRequestError(
            `The mail server at ${this.base} closed its event stream`,
            'TMS_UNREACHABLE',
            undefined,
          ),
        );
      });
    });
    return opened;
  }
}

/** The JSON of an answer; undefined for an empty or non-JSON one (not this API's). */
function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}
