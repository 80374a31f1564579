/**
 * One SMTP connection: an explicit state, a command table, and the input reader. Input is
 * processed in order; while a command waits (storing a message), later pipelined input stays
 * buffered. Replies produced in one pass over the input go out in one write.
 */
import { randomBytes } from 'node:crypto';
import type * as tls from 'node:tls';
import type { Logger } from '../log.js';
import type { MailboxName } from '../mailbox/address.js';
import type { Connection } from './connection.js';
import type { IncomingBody, MailDelivery } from './delivery.js';
import { decodeBase64, mechanisms, startAuth, type AuthExchange } from './auth.js';
import { SmtpInput } from './input.js';
import type { Gate, Phase } from './gate.js';
import { parsePath } from './path.js';
import { formatReply, reply, type Reply } from './replies.js';

export interface SessionSettings {
  readonly store: MailDelivery;
  readonly log: Logger;
  readonly serverName: string;
  readonly maxMessageSize: number;
  readonly maxRecipients: number;
  readonly idleTimeoutMs: number;
  /** Present when STARTTLS is offered. */
  readonly startTls: tls.SecureContext | undefined;
  /** Consulted at each phase; lets fault injection replace a reply, delay, or hang up. */
  readonly gate: Gate | undefined;
}

/** Longest command line accepted; RFC 5321 asks for 512, AUTH responses and parameters need more. */
const maxLineLength = 4096;

/** `skip` throws away a BDAT chunk whose command was refused, to stay in step with the client. */
type Mode = 'command' | 'data' | 'bdat' | 'skip' | 'auth' | 'closed';

interface Transaction {
  from: string;
  recipients: MailboxName[];
  /** The body being received (DATA or a series of BDAT chunks). */
  body?: IncomingBody;
  /** Set once the body passed the size limit: it is still read, then refused. */
  oversized?: boolean;
  /** Bytes still expected for the current BDAT chunk, and whether it is the LAST one. */
  chunkRemaining?: number;
  chunkIsLast?: boolean;
}

type Handler = (session: SmtpSession, argument: string) => void;

let idCounter = 0;

export class SmtpSession {
  private readonly input = new SmtpInput(maxLineLength);
  private mode: Mode = 'command';
  /** Waiting for an asynchronous step (storing a message); input is held meanwhile. */
  private busy = false;
  private outgoing: Reply[] = [];
  private heloName = '';
  private extended = false;
  private user: string | undefined;
  private auth: AuthExchange | undefined;
  private transaction: Transaction | undefined;
  private closeAfterTransaction = false;
  private bodyBehind = false;
  private skipRemaining = 0;
  private delivering: Promise<unknown> = Promise.resolve();
  /** Resolves when the connection is gone. */
  readonly closed: Promise<void>;

  private readonly clientAddress: string;

  constructor(
    private readonly connection: Connection,
    private readonly settings: SessionSettings,
  ) {
    this.clientAddress = connection.remoteAddress;
    let closed: () => void = () => {};
    this.closed = new Promise((resolve) => (closed = resolve));
    connection.listen({
      data: (chunk) => this.receive(chunk),
      drain: () => {},
      close: () => {
        this.mode = 'closed';
        this.abortTransaction();
        closed();
      },
      error: (error) => this.settings.log.debug(`SMTP ${this.clientAddress}: ${error.message}`),
    });
    connection.setIdleTimeout(settings.idleTimeoutMs, () => this.end(reply.idleTimeout));
    this.gated('connect', {}, () => this.send(reply.greeting(settings.serverName)));
    this.flush();
  }

  /** True while a message is being received or stored: shutdown lets it finish. */
  get inTransaction(): boolean {
    return this.busy || this.mode === 'data' || this.mode === 'bdat' || this.transaction?.body !== undefined;
  }

  /** Resolves when the connection is gone and the last message it sent is stored (or refused). */
  get finished(): Promise<void> {
    return this.closed.then(() => this.delivering).then(() => undefined);
  }

  /** Server shutdown: close now if idle, otherwise right after the message in progress. */
  shutdown(): void {
    if (this.inTransaction) {
      this.closeAfterTransaction = true;
      return;
    }
    this.end(reply.shuttingDown);
  }

  destroy(): void {
    this.mode = 'closed';
    this.connection.destroy();
  }

  private receive(chunk: Buffer): void {
    if (this.mode === 'closed') return;
    this.input.push(chunk);
    this.pump();
  }

  /** Consumes buffered input until it runs out or a step has to wait. */
  private pump(): void {
    while (!this.busy && this.mode !== 'closed') {
      if (this.mode === 'data') {
        if (!this.input.readData((chunk) => this.bodyChunk(chunk))) break;
        this.endOfMessage();
      } else if (this.mode === 'skip') {
        this.skipRemaining -= this.input.readBytes(this.skipRemaining, () => {});
        if (this.skipRemaining > 0) break;
        this.mode = 'command';
      } else if (this.mode === 'bdat') {
        const transaction = this.transaction!;
        transaction.chunkRemaining! -= this.input.readBytes(transaction.chunkRemaining!, (chunk) =>
          this.bodyChunk(chunk),
        );
        if (transaction.chunkRemaining! > 0) break;
        this.mode = 'command';
        if (transaction.chunkIsLast) this.endOfMessage();
        else if (transaction.oversized) this.refuseOversized();
        else this.send(reply.chunkOk(transaction.body!.size));
      } else {
        const result = this.input.readLine();
        if (result === undefined) break;
        if ('tooLong' in result) this.send(reply.lineTooLong(maxLineLength));
        else if (this.mode === 'auth') this.authResponse(result.line);
        else this.command(result.line);
      }
    }
    this.flush();
  }

  private command(line: string): void {
    const space = line.indexOf(' ');
    const verb = (space < 0 ? line : line.slice(0, space)).toUpperCase();
    const argument = space < 0 ? '' : line.slice(space + 1).trim();
    const log = this.settings.log;
    if (log.enabled('debug'))
      log.debug(`SMTP ${this.clientAddress} C: ${verb === 'AUTH' ? line.replace(/^(\S+ \S+) .*/, '$1 ****') : line}`);
    const handler = commands[verb];
    if (handler) handler(this, argument);
    else this.send(reply.unknownCommand);
  }

  // ---- commands (the table below maps verbs to these) ----

  helo(argument: string, extended: boolean): void {
    if (argument === '') return this.send(reply.syntax(`${extended ? 'EHLO' : 'HELO'} hostname`));
    this.gated('helo', {}, () => this.greet(argument, extended));
  }

  private greet(argument: string, extended: boolean): void {
    this.heloName = argument.split(' ')[0]!;
    this.extended = extended;
    this.abortTransaction();
    if (!extended) return this.send(reply.helo(this.settings.serverName, this.heloName));
    const lines = [
      'PIPELINING',
      '8BITMIME',
      'SMTPUTF8',
      `SIZE ${this.settings.maxMessageSize}`,
      'ENHANCEDSTATUSCODES',
      'CHUNKING',
    ];
    if (this.settings.startTls && !this.connection.secure) lines.push('STARTTLS');
    lines.push(`AUTH ${mechanisms.join(' ')}`);
    this.send(reply.ehlo(this.settings.serverName, this.heloName, lines));
  }

  mail(argument: string): void {
    if (this.transaction) return this.send(reply.badSequence('Sender already given (use RSET)'));
    const match = /^FROM:\s*(.*)$/i.exec(argument);
    if (!match) return this.send(reply.syntax('MAIL FROM:<address> [parameters]'));
    const path = parsePath(match[1]);
    if (!path) return this.send(reply.badAddress('MAIL FROM:<address>'));
    for (const [name, value] of parameters(path.rest)) {
      if (name === 'SIZE') {
        const declared = Number(value);
        if (!/^\d+$/.test(value ?? '')) return this.send(reply.syntax('SIZE=<number>'));
        if (declared > this.settings.maxMessageSize) return this.send(reply.tooBig(this.settings.maxMessageSize));
      } else if (name === 'BODY') {
        if (!['7BIT', '8BITMIME'].includes((value ?? '').toUpperCase()))
          return this.send(reply.unknownParameter(`BODY=${value}`));
      } else if (name !== 'SMTPUTF8' && name !== 'AUTH') {
        // AUTH= must be accepted wherever AUTH is advertised (RFC 4954 §5).
        return this.send(reply.unknownParameter(name));
      }
    }
    this.gated('mail', { from: path.address }, () => {
      this.transaction = { from: path.address, recipients: [] };
      this.send(reply.senderOk);
    });
  }

  rcpt(argument: string): void {
    const transaction = this.transaction;
    if (!transaction) return this.send(reply.badSequence('Need MAIL before RCPT'));
    const match = /^TO:\s*(.*)$/i.exec(argument);
    if (!match) return this.send(reply.syntax('RCPT TO:<address> [parameters]'));
    const path = parsePath(match[1]);
    if (!path) return this.send(reply.badAddress('RCPT TO:<address>'));
    const [unsupported] = parameters(path.rest);
    if (unsupported) return this.send(reply.unknownParameter(unsupported[0]));
    const checked = this.settings.store.check(path.address);
    if (!checked.ok) return this.send(reply.refusedRecipient(checked.reason));
    if (transaction.recipients.length >= this.settings.maxRecipients)
      return this.send(reply.tooManyRecipients(this.settings.maxRecipients));
    this.gated('rcpt', { from: transaction.from, to: [checked.mailbox.address] }, () => {
      // One copy per mailbox, however often it is named.
      if (!transaction.recipients.some((r) => r.address === checked.mailbox.address))
        transaction.recipients.push(checked.mailbox);
      this.send(reply.recipientOk);
    });
  }

  data(argument: string): void {
    if (argument !== '') return this.send(reply.syntax('DATA'));
    if (this.transaction?.body) return this.send(reply.badSequence('BDAT in progress, DATA not allowed'));
    if (!this.readyForBody()) return;
    this.transaction!.body = this.settings.store.receive();
    this.mode = 'data';
    this.input.startData();
    this.send(reply.startData);
  }

  bdat(argument: string): void {
    const match = /^(\d+)(?: +(LAST))?$/i.exec(argument);
    if (!match) return this.send(reply.syntax('BDAT <size> [LAST]'));
    const transaction = this.transaction;
    if (!transaction?.body && !this.readyForBody()) {
      // The chunk follows regardless; it must be read and thrown away to stay in step.
      this.skipRemaining = Number(match[1]);
      this.mode = 'skip';
      return;
    }
    transaction!.body ??= this.settings.store.receive();
    transaction!.chunkRemaining = Number(match[1]);
    transaction!.chunkIsLast = match[2] !== undefined;
    this.mode = 'bdat';
  }

  reset(): void {
    this.abortTransaction();
    this.send(reply.resetOk);
  }

  startTls(): void {
    const context = this.settings.startTls;
    if (!context) return this.send(reply.tlsNotOffered);
    if (this.connection.secure) return this.send(reply.badSequence('TLS already active'));
    this.send(reply.startTls);
    this.flush();
    // Anything pipelined after STARTTLS was sent in the clear and must not be obeyed (RFC 3207 §4.2).
    this.input.clear();
    this.connection.startTls(context);
    this.heloName = '';
    this.extended = false;
    this.abortTransaction();
  }

  authenticate(argument: string): void {
    if (this.user !== undefined) return this.send(reply.badSequence('Already authenticated'));
    if (this.transaction) return this.send(reply.badSequence('AUTH not allowed during a mail transaction'));
    const [mechanism = '', initial] = argument.split(' ');
    const exchange = startAuth(mechanism.toUpperCase(), this.settings.serverName);
    if (!exchange) return this.send(reply.unknownMechanism(mechanisms));
    this.auth = exchange;
    if (initial !== undefined && mechanism.toUpperCase() !== 'CRAM-MD5') return this.authResponse(initial);
    this.mode = 'auth';
    this.send(reply.authChallenge(exchange.firstChallenge));
  }

  quit(): void {
    this.end(reply.closing(this.settings.serverName), true);
  }

  send(line: Reply): void {
    this.outgoing.push(line);
  }

  // ---- internals ----

  /**
   * Runs `proceed` unless the gate says otherwise: after an optional delay (input held
   * meanwhile), it may hang up or send its own reply instead (then `refused` runs).
   * Returns whether the gate acted.
   */
  private gated(phase: Phase, context: Parameters<Gate>[1], proceed: () => void, refused?: () => void): boolean {
    const action = this.settings.gate?.(phase, context);
    if (!action) {
      proceed();
      return false;
    }
    const act = () => {
      if (this.mode === 'closed') return;
      if (action.disconnect) {
        refused?.();
        // Replies to earlier pipelined commands still go out; only this command gets none.
        this.flush();
        return this.destroy();
      }
      if (!action.reply) return proceed();
      refused?.();
      const text: Reply = { code: action.reply.code, text: action.reply.text };
      // A refused greeting ends the connection; any other refusal leaves it usable.
      if (phase === 'connect') this.end(text);
      else this.send(text);
    };
    if (!action.delayMs) {
      act();
      return true;
    }
    this.busy = true;
    afterAtLeast(action.delayMs, () => {
      this.busy = false;
      act();
      this.pump();
    });
    return true;
  }

  private authResponse(line: string): void {
    this.mode = 'command';
    if (this.settings.log.enabled('debug')) this.settings.log.debug(`SMTP ${this.clientAddress} C: ****`);
    if (line === '*') return this.send(reply.authCancelled);
    const decoded = decodeBase64(line);
    if (decoded === undefined) return this.send(reply.authBadEncoding);
    const step = this.auth!.respond(decoded);
    if ('challenge' in step) {
      this.mode = 'auth';
      return this.send(reply.authChallenge(step.challenge));
    }
    this.auth = undefined;
    if ('malformed' in step) return this.send(reply.authBadEncoding);
    this.user = step.user;
    this.settings.log.debug(`SMTP ${this.clientAddress} authenticated as ${step.user}`);
    this.send(reply.authOk);
  }

  private readyForBody(): boolean {
    const transaction = this.transaction;
    if (!transaction) {
      this.send(reply.badSequence('Need MAIL and RCPT before the message'));
      return false;
    }
    if (transaction.recipients.length === 0) {
      this.send(reply.noValidRecipients);
      return false;
    }
    return true;
  }

  private bodyChunk(chunk: Buffer): void {
    const transaction = this.transaction!;
    const body = transaction.body;
    if (transaction.oversized || !body) return;
    if (body.size + chunk.length > this.settings.maxMessageSize) {
      transaction.oversized = true;
      body.discard();
      return;
    }
    if (!body.write(chunk) && !this.bodyBehind) {
      // The temp file is behind: stop reading until it catches up.
      this.bodyBehind = true;
      this.connection.pause();
      body.once('drain', () => {
        this.bodyBehind = false;
        this.connection.resume();
      });
    }
  }

  private endOfMessage(): void {
    this.mode = 'command';
    const transaction = this.transaction!;
    if (transaction.oversized) return this.refuseOversized();
    const to = transaction.recipients.map((r) => r.address);
    const refuse = () => {
      // The gate answered instead of the store: the message is dropped.
      if (this.transaction === transaction) this.abortTransaction();
    };
    this.gated('data', { from: transaction.from, to }, () => this.store(transaction), refuse);
  }

  private store(transaction: Transaction): void {
    const body = transaction.body!;
    // From here the delivery owns the body: a client hanging up now must not discard it mid-write.
    transaction.body = undefined;
    const receivedAt = new Date();
    const id = messageId(receivedAt);
    this.busy = true;
    this.delivering = this.settings.store
      .deliver(
        body,
        { from: transaction.from, to: transaction.recipients },
        {
          heloName: this.heloName,
          clientAddress: this.clientAddress,
          serverName: this.settings.serverName,
          protocol: `${this.extended ? 'ESMTP' : 'SMTP'}${this.connection.secure ? 'S' : ''}${this.user !== undefined ? 'A' : ''}`,
          id,
          receivedAt,
        },
      )
      .then(
        () => this.send(reply.queued(id)),
        (error: Error) => {
          this.settings.log.error(`Storing message ${id} failed: ${error.message}`);
          this.send(reply.localError);
        },
      )
      .finally(() => {
        this.transaction = undefined;
        this.busy = false;
        if (this.closeAfterTransaction) return this.end(reply.shuttingDown);
        this.pump();
      });
  }

  private refuseOversized(): void {
    this.abortTransaction();
    this.send(reply.tooBig(this.settings.maxMessageSize));
    if (this.closeAfterTransaction) this.end(reply.shuttingDown);
  }

  private abortTransaction(): void {
    this.transaction?.body?.discard();
    this.transaction = undefined;
    if (this.mode === 'data' || this.mode === 'bdat') this.mode = 'command';
  }

  private flush(): void {
    if (this.outgoing.length === 0 || this.mode === 'closed') return;
    const text = this.outgoing.map(formatReply).join('\r\n') + '\r\n';
    this.outgoing = [];
    const log = this.settings.log;
    if (log.enabled('debug')) log.debug(`SMTP ${this.clientAddress} S: ${text.trimEnd().replace(/\r\n/g, ' | ')}`);
    this.connection.write(text);
  }

  /** Sends the last reply and closes (see `Connection.end`). */
  private end(last: Reply, conversationOver = false): void {
    if (this.mode === 'closed') return;
    this.send(last);
    this.flush();
    this.mode = 'closed';
    this.abortTransaction();
    this.connection.end(conversationOver);
  }
}

/** `KEY=VALUE` pairs after the address; keys uppercased. */
function parameters(text: string): Array<[string, string | undefined]> {
  return text
    .split(' ')
    .filter((word) => word !== '')
    .map((word) => {
      const eq = word.indexOf('=');
      return eq < 0 ? [word.toUpperCase(), undefined] : [word.slice(0, eq).toUpperCase(), word.slice(eq + 1)];
    });
}

const idPrefix = randomBytes(3).toString('hex').toUpperCase();

function messageId(at: Date): string {
  return `${idPrefix}${at.getTime().toString(36).toUpperCase()}${(++idCounter).toString(36).toUpperCase()}`;
}

const commands: Record<string, Handler> = {
  HELO: (s, a) => s.helo(a, false),
  EHLO: (s, a) => s.helo(a, true),
  MAIL: (s, a) => s.mail(a),
  RCPT: (s, a) => s.rcpt(a),
  DATA: (s, a) => s.data(a),
  BDAT: (s, a) => s.bdat(a),
  RSET: (s) => s.reset(),
  NOOP: (s) => s.send(reply.ok),
  VRFY: (s) => s.send(reply.cannotVerify),
  EXPN: (s) => s.send(reply.unsupported('EXPN')),
  HELP: (s) => s.send(reply.help(Object.keys(commands))),
  QUIT: (s) => s.quit(),
  STARTTLS: (s) => s.startTls(),
  AUTH: (s, a) => s.authenticate(a),
};

/**
 * Runs `then` no sooner than `delayMs` of real time from now. A bare setTimeout counts from
 * the loop turn's cached clock, so after a busy turn it fires a few milliseconds early, and a
 * chaos delay is a promise a test may assert on.
 */
function afterAtLeast(delayMs: number, then: () => void): void {
  const due = performance.now() + delayMs;
  const check = () => {
    const left = due - performance.now();
    if (left > 0) setTimeout(check, Math.ceil(left));
    else then();
  };
  setTimeout(check, delayMs);
}
