/**
 * The SMTP listeners (plain with optional STARTTLS, and implicit TLS) and their sessions.
 * No DNS lookups anywhere: reverse lookups stall for seconds in containers and closed networks.
 */
import * as net from 'node:net';
import * as tls from 'node:tls';
import { listen } from '../listen.js';
import type { Logger } from '../log.js';
import type { TlsCredentials } from '../tls.js';
import { socketConnection } from './connection.js';
import type { MailDelivery } from './delivery.js';
import type { Gate } from './gate.js';
import { SmtpSession, type SessionSettings } from './session.js';

export interface SmtpServerOptions {
  readonly store: MailDelivery;
  readonly log: Logger;
  readonly host: string;
  readonly port: number;
  /** Implicit-TLS port (SMTPS); undefined for none. */
  readonly smtpsPort: number | undefined;
  readonly tls: TlsCredentials | undefined;
  /** Offer STARTTLS on the plain port (needs `tls`). */
  readonly offerStartTls: boolean;
  readonly serverName: string;
  readonly maxMessageSize: number;
  readonly maxRecipients: number;
  readonly idleTimeoutMs: number;
  readonly gate?: Gate | undefined;
}

export class SmtpServer {
  private readonly sessions = new Set<SmtpSession>();
  private readonly listeners: net.Server[] = [];
  port = 0;
  smtpsPort: number | undefined;

  constructor(private readonly options: SmtpServerOptions) {}

  async start(): Promise<void> {
    const { log, host, tls: credentials } = this.options;
    const secureContext = credentials && tls.createSecureContext(credentials);
    const settings: SessionSettings = {
      store: this.options.store,
      log,
      serverName: this.options.serverName,
      maxMessageSize: this.options.maxMessageSize,
      maxRecipients: this.options.maxRecipients,
      idleTimeoutMs: this.options.idleTimeoutMs,
      startTls: this.options.offerStartTls ? secureContext : undefined,
      gate: this.options.gate,
    };
    const plain = net.createServer({ noDelay: true }, (socket) => this.open(socket, settings));
    this.listeners.push(plain);
    this.port = await listen(plain, host, this.options.port, 'smtp');
    log.info(`SMTP listening on ${host}:${this.port}${settings.startTls ? ' (STARTTLS offered)' : ''}`);
    if (this.options.smtpsPort !== undefined && credentials) {
      const implicit = tls.createServer(credentials, (socket) =>
        this.open(socket, { ...settings, startTls: undefined }),
      );
      implicit.on('tlsClientError', (error) => log.debug(`SMTPS handshake failed: ${error.message}`));
      this.listeners.push(implicit);
      this.smtpsPort = await listen(implicit, host, this.options.smtpsPort, 'smtps');
      log.info(`SMTPS listening on ${host}:${this.smtpsPort}`);
    }
  }

  /**
   * Stops accepting, closes idle connections with 421, lets messages being received or stored
   * finish for up to `graceMs`, then cuts what is left. Resolves when every connection is gone.
   */
  async close(graceMs = 5000): Promise<void> {
    const stopped = this.listeners.map((server) => new Promise((resolve) => server.close(resolve)));
    for (const session of this.sessions) session.shutdown();
    const timer = setTimeout(() => {
      for (const session of this.sessions) session.destroy();
    }, graceMs);
    await Promise.all([...stopped, ...[...this.sessions].map((session) => session.finished)]);
    clearTimeout(timer);
  }

  private open(socket: net.Socket, settings: SessionSettings): void {
    const session = new SmtpSession(socketConnection(socket), settings);
    this.sessions.add(session);
    void session.closed.then(() => this.sessions.delete(session));
  }
}
