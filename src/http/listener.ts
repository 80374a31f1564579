/**
 * The HTTP port, bound when the server starts, with the API behind it loaded on the first
 * request. Fastify, its plugins and our routes are ~0.5 s of CPU to load and ~40 MB resident
 * once loaded (a larger heap that every major GC then marks): a server used only over SMTP and
 * its files never pays for them. Requests and WebSocket upgrades that arrive while the API loads
 * wait for it. This module stays light (no Fastify at run time): the server loads it at start.
 */
import * as http from 'node:http';
import type { Duplex } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import type { HttpErrorCode } from '../errors.js';
import { listen } from '../listen.js';
import type { Logger } from '../log.js';

/**
 * Builds the API, ready to route, on `shell`: a server that never listens, there for Fastify to
 * own (its plugins attach to it) while requests come from the listening one (`app.routing`).
 */
export type LoadApi = (shell: http.Server) => Promise<FastifyInstance>;

type Waiting =
  | { readonly kind: 'request'; readonly request: http.IncomingMessage; readonly response: http.ServerResponse }
  | {
      readonly kind: 'upgrade';
      readonly request: http.IncomingMessage;
      readonly socket: Duplex;
      readonly head: Buffer;
    };

interface Refusal {
  readonly status: number;
  readonly code: HttpErrorCode;
  readonly message: string;
}

const shuttingDown: Refusal = { status: 503, code: 'TMS_NOT_READY', message: 'The server is shutting down' };

export class HttpListener {
  private app: FastifyInstance | undefined;
  /** Where the API's websocket plugin listens for handshakes, handed on once it is loaded. */
  private readonly shell = http.createServer();
  private loading: Promise<void> | undefined;
  private readonly waiting: Waiting[] = [];
  /** Why requests are refused now: shutting down, or the API failed to load. */
  private refusal: Refusal | undefined;

  private constructor(
    private readonly server: http.Server,
    readonly port: number,
    private readonly loadApi: LoadApi,
    private readonly log: Logger | undefined,
  ) {
    server.on('request', this.onRequest);
    // Without an 'upgrade' listener Node would destroy the socket of a WebSocket handshake.
    server.on('upgrade', this.onUpgrade);
  }

  /** Binds `host:port` (a port in use is a PortInUseError naming `http`); resolves once listening. */
  static async listen(host: string, port: number, loadApi: LoadApi, log?: Logger): Promise<HttpListener> {
    const server = http.createServer();
    const bound = await listen(server, host, port, 'http');
    log?.info(`HTTP listening on ${host}:${bound}`);
    return new HttpListener(server, bound, loadApi, log);
  }

  /** Stops listening, closes the API (its WebSockets) if it was loaded, and waits for open requests to end. */
  async close(): Promise<void> {
    this.refusal = shuttingDown;
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeIdleConnections();
    await this.loading;
    await this.app?.close();
    this.server.closeIdleConnections();
    await closed;
  }

  private readonly onRequest = (request: http.IncomingMessage, response: http.ServerResponse) => {
    if (this.app) return this.app.routing(request, response);
    this.wait({ kind: 'request', request, response });
  };

  private readonly onUpgrade = (request: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    if (this.app && !this.refusal) return void this.shell.emit('upgrade', request, socket, head);
    this.wait({ kind: 'upgrade', request, socket, head });
  };

  private wait(waiting: Waiting): void {
    if (this.refusal) return refuse(waiting, this.refusal);
    this.waiting.push(waiting);
    this.loading ??= this.load();
  }

  private async load(): Promise<void> {
    const started = performance.now();
    try {
      this.app = await this.loadApi(this.shell);
    } catch (error) {
      // A fault of ours, not of the request: every later one would meet it too.
      this.log?.error(`The HTTP API could not be loaded: ${(error as Error).stack ?? String(error)}`);
      this.refusal ??= { status: 500, code: 'TMS_INTERNAL', message: 'The HTTP API could not be loaded' };
      for (const waiting of this.waiting.splice(0)) refuse(waiting, this.refusal);
      return;
    }
    this.log?.debug(`HTTP API loaded in ${Math.round(performance.now() - started)} ms`);
    for (const waiting of this.waiting.splice(0)) {
      if (waiting.kind === 'request') this.onRequest(waiting.request, waiting.response);
      else this.onUpgrade(waiting.request, waiting.socket, waiting.head);
    }
  }
}

/** Answers in the API's error shape; a WebSocket handshake is cut off. */
function refuse(waiting: Waiting, { status, code, message }: Refusal): void {
  if (waiting.kind === 'upgrade') return void waiting.socket.destroy();
  waiting.response
    .writeHead(status, { 'content-type': 'application/json; charset=utf-8', connection: 'close' })
    .end(JSON.stringify({ Error: message, code }));
}
