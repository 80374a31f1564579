/**
 * The byte stream a session talks over, as a small interface: a TCP or TLS socket in the
 * server (`socketConnection`), an in-memory pair in tests.
 */
import type { Socket } from 'node:net';
import * as tls from 'node:tls';

/** Function properties, not methods: the socket calls them detached. */
export interface ConnectionEvents {
  readonly data: (chunk: Buffer) => void;
  /** Written data has gone out: writing may go on. */
  readonly drain: () => void;
  /** The connection is gone (once). */
  readonly close: () => void;
  readonly error: (error: Error) => void;
}

export interface Connection {
  readonly remoteAddress: string;
  /** Implicit TLS, or STARTTLS done. */
  readonly secure: boolean;
  /** Sets the listeners, once. */
  listen(events: ConnectionEvents): void;
  /** False when the peer is behind: 'drain' follows once it caught up. */
  write(text: string): boolean;
  /** Stops 'data' events until `resume`. */
  pause(): void;
  resume(): void;
  /** Runs `onIdle` after `ms` without traffic either way. */
  setIdleTimeout(ms: number, onIdle: () => void): void;
  /**
   * Closes once what was written is out. `conversationOver` (after QUIT): let go as soon as it
   * is, not when the peer's close arrives; otherwise the peer gets a moment to read, then a cut.
   */
  end(conversationOver: boolean): void;
  destroy(): void;
  /** STARTTLS: from now on, 'data' is what arrives inside TLS and writes go through it. */
  startTls(context: tls.SecureContext): void;
}

/** How long a closing connection waits for the client to read its last reply. */
const lingerMs = 1000;

const noEvents: ConnectionEvents = { data: () => {}, drain: () => {}, close: () => {}, error: () => {} };

export function socketConnection(socket: Socket): Connection {
  return new SocketConnection(socket);
}

class SocketConnection implements Connection {
  readonly remoteAddress: string;
  secure: boolean;
  private events = noEvents;
  private idle: { ms: number; onIdle: () => void } | undefined;
  private paused = false;
  private closed = false;
  private readonly onClose = () => {
    if (this.closed) return;
    this.closed = true;
    this.events.close();
  };

  constructor(private socket: Socket) {
    this.remoteAddress = socket.remoteAddress ?? 'unknown';
    this.secure = socket instanceof tls.TLSSocket;
  }

  listen(events: ConnectionEvents): void {
    this.events = events;
    this.attach(this.socket);
  }

  write(text: string): boolean {
    return this.socket.write(text);
  }

  pause(): void {
    this.paused = true;
    this.socket.pause();
  }

  resume(): void {
    this.paused = false;
    this.socket.resume();
  }

  setIdleTimeout(ms: number, onIdle: () => void): void {
    this.idle = { ms, onIdle };
    this.socket.setTimeout(ms, onIdle);
  }

  end(conversationOver: boolean): void {
    const socket = this.socket;
    // Everything written is with the kernel, which sends it before its FIN: closing now saves the
    // shutdown call and a turn of the event loop per connection. TLS ends with its close_notify.
    if (conversationOver && !this.secure && socket.writableLength === 0) return void socket.destroy();
    socket.end();
    if (conversationOver) socket.once('finish', () => socket.destroy());
    // A client that never reads its last reply must not hold the socket open.
    else setTimeout(() => socket.destroy(), lingerMs).unref();
  }

  destroy(): void {
    this.socket.destroy();
  }

  startTls(context: tls.SecureContext): void {
    const plain = this.socket;
    const events = this.events;
    // Its 'drain' stays: the STARTTLS reply itself may be what the client has yet to read.
    plain.removeListener('data', events.data);
    plain.setTimeout(0);
    this.socket = new tls.TLSSocket(plain, { isServer: true, secureContext: context });
    this.secure = true;
    this.attach(this.socket);
    if (this.paused) this.socket.pause();
    if (this.idle) this.socket.setTimeout(this.idle.ms, this.idle.onIdle);
  }

  private attach(socket: Socket): void {
    const events = this.events;
    socket.on('data', events.data);
    socket.on('drain', events.drain);
    socket.on('error', events.error);
    // After STARTTLS either socket may report the end first.
    socket.on('close', this.onClose);
  }
}
