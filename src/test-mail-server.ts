/**
 * Starting a server: one options object in, a running server handle out. The defaults suit
 * tests (free ports, a temp MAIL_DIR removed on close); the CLI passes its own defaults.
 * Never touches process signals or process.exit. Apart from index.ts, the library face, so that
 * the CLI's server thread loads what serves and not the whole toolkit (`connect()` and its
 * WebSocket client): start-up time and memory.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { Chaos } from './chaos/chaos.js';
import type { ChaosRule } from './chaos/rule.js';
import type { Relay } from './http/release.js';
import { HttpListener } from './http/listener.js';
import type { HttpServerOptions, HttpUser } from './http/server.js';
import { createLogger, type Logger, type LogLevel } from './log.js';
import { MailStore } from './mailbox/store.js';
import { SmtpServer } from './smtp/server.js';
import { loadTlsCredentials } from './tls.js';
import { createMailClient, type MailClient } from './testing/client.js';
import { StoreSource } from './testing/store-source.js';
import { defaults } from './defaults.js';
import { packageVersion } from './version.js';
import { hostPort } from './listen.js';

export interface TestMailServerOptions {
  /** Where mailboxes live; default: a fresh temp folder, removed by `close()`. */
  mailDir?: string;
  /** Address to listen on; default 127.0.0.1. */
  host?: string;
  /** SMTP port; default 0 (a free port). */
  smtpPort?: number;
  /** Implicit-TLS SMTP port; default none. */
  smtpsPort?: number;
  /** Offer STARTTLS; default false (clients such as nodemailer would upgrade and then reject a self-signed certificate). */
  tls?: boolean;
  /** PEM certificate and key; without them a self-signed certificate for localhost is generated. */
  tlsCert?: string;
  tlsKey?: string;
  /** Largest message accepted, in bytes; default 50 MiB. */
  maxMessageSize?: number;
  /** Recipients per message; default 1000. */
  maxRecipients?: number;
  /** Idle connections are closed after this long; default 5 minutes. */
  idleTimeoutMs?: number;
  /** Default 'warning', so test output stays quiet. */
  logLevel?: LogLevel;
  /** Where log lines go; default standard error. */
  logWriter?: (line: string) => void;
  /** Fault-injection rules in effect from the start (objects or their text form); more via `chaos.add`. */
  chaos?: ReadonlyArray<ChaosRule | string>;
  /** The HTTP API's port (Mailpit's and MailHog's APIs, ours, the event stream); 0 picks a free one; default none. */
  httpPort?: number;
  /** HTTP basic auth on the API: any of these users may pass (the health probes stay open); default none. */
  httpAuth?: readonly HttpUser[];
  /** The one origin (`https://app.test`) whose pages may call the API from a browser; default none. */
  corsOrigin?: string;
  /** `smtp://host:port`: where the HTTP API's release sends a stored message on; default none (releasing is refused). */
  smtpRelay?: string;
  /** Recipients the relay may send to: globs (`*@example.test`) or `/regexp/flags`; default any. */
  smtpRelayAllow?: readonly string[];
}

/** Also the test helpers of MailClient: `waitForMessage`, `waitForMessages`, `messages`, `mailbox`, `deleteAll`, `createAddress`. */
export interface TestMailServer extends MailClient {
  readonly host: string;
  readonly smtpPort: number;
  readonly smtpsPort: number | undefined;
  /** `smtp://127.0.0.1:PORT` */
  readonly smtpUrl: string;
  /** The HTTP API's port; undefined without `httpPort`. */
  readonly httpPort: number | undefined;
  /** `http://127.0.0.1:PORT`, what `connect()` takes; undefined without `httpPort`. */
  readonly httpUrl: string | undefined;
  /** Absolute path of the mail directory. */
  readonly mailDir: string;
  /** The MH store, for readers that want its events and messages. */
  readonly store: MailStore;
  /** Fault injection: `add(rule)` returns an id; `remove(id)`, `list()`, `clear()`. */
  readonly chaos: Chaos;
  /** Stops accepting, lets messages in flight finish (up to 5 s), and removes a temp mailDir. */
  close(): Promise<void>;
}

export async function startTestMailServer(options: TestMailServerOptions = {}): Promise<TestMailServer> {
  const log: Logger = createLogger(options.logLevel ?? 'warning', options.logWriter);
  // Before anything starts: a bad rule (ChaosRuleError) or TLS file (TlsFilesError) leaves nothing behind.
  const chaos = new Chaos({ log });
  for (const rule of options.chaos ?? []) chaos.add(rule);
  const wantsTls =
    options.tls === true ||
    options.smtpsPort !== undefined ||
    options.tlsCert !== undefined ||
    options.tlsKey !== undefined;
  const credentials = wantsTls
    ? await loadTlsCredentials({ certFile: options.tlsCert, keyFile: options.tlsKey })
    : undefined;
  const host = options.host ?? defaults.host;
  const serverName = os.hostname() || 'localhost';
  // Checked before anything starts, as the TLS files are. The HTTP modules load only where used (start-up time).
  let relay: Relay | undefined;
  if (options.smtpRelay !== undefined) {
    const release = await import('./http/release.js');
    relay = new release.Relay({ url: options.smtpRelay, allow: options.smtpRelayAllow }, serverName);
  }
  const ownsMailDir = options.mailDir === undefined;
  const mailDir = options.mailDir ?? (await mkdtemp(path.join(os.tmpdir(), 'test-mail-server-')));
  const store = await MailStore.open(mailDir, log);
  // Watching from the start: each delivery's envelope and arrival time are known to the waiters.
  const messageSource = new StoreSource(store);
  const mailClient = createMailClient(messageSource);
  const smtp = new SmtpServer({
    store,
    log,
    host,
    port: options.smtpPort ?? defaults.smtpPort,
    smtpsPort: options.smtpsPort,
    tls: credentials,
    offerStartTls: options.tls === true || options.tlsCert !== undefined,
    serverName,
    maxMessageSize: options.maxMessageSize ?? defaults.maxMessageSize,
    maxRecipients: options.maxRecipients ?? defaults.maxRecipients,
    idleTimeoutMs: options.idleTimeoutMs ?? defaults.idleTimeoutMs,
    gate: chaos.gate,
  });
  let http: HttpListener | undefined;
  try {
    await smtp.start();
    if (options.httpPort !== undefined) {
      const apiOptions: HttpServerOptions = {
        reader: store,
        messages: messageSource,
        delivery: store,
        serverName,
        chaos,
        relay,
        maxMessageSize: options.maxMessageSize ?? defaults.maxMessageSize,
        auth: options.httpAuth,
        corsOrigin: options.corsOrigin,
        log,
        version: packageVersion(),
      };
      // The port is bound now; the API behind it loads on the first request (see HttpListener).
      http = await HttpListener.listen(
        host,
        options.httpPort,
        async (shell) => {
          const { createHttpServer } = await import('./http/server.js');
          return createHttpServer(apiOptions, shell);
        },
        log,
      );
    }
  } catch (error) {
    // A port in use (or any failure to start) leaves nothing behind.
    await http?.close();
    await smtp.close(0);
    messageSource.close();
    // A start that fails leaves nothing behind: not even the MAIL_DIR it made.
    await store.closeAndUndoCreation();
    if (ownsMailDir) await rm(mailDir, { recursive: true, force: true });
    throw error;
  }
  return {
    host,
    smtpPort: smtp.port,
    smtpsPort: smtp.smtpsPort,
    smtpUrl: `smtp://${hostPort(host, smtp.port)}`,
    httpPort: http?.port,
    httpUrl: http && `http://${hostPort(host, http.port)}`,
    mailDir: store.mailDir,
    store,
    chaos,
    // waitForMessage and the client's other functions close over their state (no `this`): handed on as they are.
    ...mailClient,
    async close() {
      mailClient.close();
      await http?.close();
      await smtp.close();
      messageSource.close();
      await store.close();
      log.info('Stopped');
      if (ownsMailDir) await rm(mailDir, { recursive: true, force: true });
    },
  };
}
