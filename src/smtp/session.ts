/**
 * One SMTP conversation over a Connection: an explicit state, the command table's handlers, and
 * the input reader. Input is processed in order; while a step waits (storing a message, a
 * chaos delay), later pipelined input stays unread. Replies produced in one pass over the input
 * go out in one write.
 */
import { randomBytes } from 'node:crypto';
import type * as tls from 'node:tls';
import type { Logger } from '../log.js';
import type { MailboxName } from '../mailbox/address.js';
import type { Trace } from '../mailbox/trace.js';
import { decodeBase64, mechanisms, startAuth, type AuthExchange } from './auth.js';
import { BodyReceiver, type BodyEvents } from './body.js';
import { commandFor, ehloExtensions, looksLikeHttp } from './commands.js';
import type { Connection } from './connection.js';
import type { MailDelivery } from './delivery.js';
import { afterAtLeast, type Gate, type GateAction, type Phase } from './gate.js';
import { SmtpInput } from './input.js';
import { Reading } from './reading.js';
import { controlCharacter, parseMail, parseRcpt } from './path.js';
import { badSyntax, formatReply, reply, type BadSyntax, type Reply } from './replies.js';

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

/**
 * Unrecognized command lines in a row before hanging up (Postfix: smtpd_hard_error_limit). A
 * client that probes an extension or two is still served; a body sent as commands, or some
 * other protocol, is cut off after three lines. Refused arguments of known commands (a test
 * suite may send many on purpose) do not count.
 */
const unrecognizedLimit = 3;

interface Transaction {
  readonly from: string;
  readonly recipients: MailboxName[];
  /** The body being received: from DATA, or from the first BDAT to the LAST one. */
  body?: BodyReceiver;
}

/** What the next input is. `skip` throws away a BDAT chunk whose command was refused, to stay in step. */
type Mode =
  | { readonly kind: 'command' }
  | { readonly kind: 'data'; readonly transaction: Transaction; readonly body: BodyReceiver }
  | {
      readonly kind: 'bdat';
      readonly transaction: Transaction;
      readonly body: BodyReceiver;
      remaining: number;
      readonly last: boolean;
    }
  | { readonly kind: 'skip'; remaining: number }
  | { readonly kind: 'auth'; readonly exchange: AuthExchange }
  | { readonly kind: 'closed' };

const commandMode: Mode = { kind: 'command' };
const closedMode: Mode = { kind: 'closed' };
const nowhere = { write: () => {} };

let idCounter = 0;

export class SmtpSession {
  /** Resolves when the connection is gone. */
  readonly closed: Promise<void>;
  private readonly input = new SmtpInput(maxLineLength);
  private mode: Mode = commandMode;
  /** An asynchronous step (storing a message, a chaos delay) is pending: input waits. */
  private waiting = false;
  private outgoing: Reply[] = [];
  private heloName = '';
  private extended = false;
  private user: string | undefined;
  private transaction: Transaction | undefined;
  private closeAfterTransaction = false;
  private unrecognizedInARow = 0;
  private delivering: Promise<unknown> = Promise.resolve();
  private readonly clientAddress: string;
  private readonly reading: Reading;
  private readonly bodyEvents: BodyEvents = {
    hold: () => this.reading.hold('body'),
    release: () => this.reading.release('body'),
    failed: (error) =>
      this.settings.log.error(`SMTP ${this.clientAddress}: the message could not be received: ${error.message}`),
  };

  constructor(
    private readonly connection: Connection,
    readonly settings: SessionSettings,
  ) {
    this.clientAddress = connection.remoteAddress;
    this.reading = new Reading(connection, settings.log, this.clientAddress);
    let closed = () => {};
    this.closed = new Promise((resolve) => (closed = resolve));
    connection.listen({
      data: (chunk) => this.receive(chunk),
      drain: () => this.repliesRead(),
      close: () => {
        this.mode = closedMode;
        this.abortTransaction();
        closed();
      },
      error: (error) => settings.log.debug(`SMTP ${this.clientAddress}: ${error.message}`),
    });
    connection.setIdleTimeout(settings.idleTimeoutMs, () => this.end(reply.idleTimeout));
    this.gated('connect', {}, () => this.send(reply.greeting(settings.serverName)));
    this.flush();
  }

  /** True while a message is being received or stored: shutdown lets it finish. */
  get inTransaction(): boolean {
    const kind = this.mode.kind;
    return this.waiting || kind === 'data' || kind === 'bdat' || this.transaction?.body !== undefined;
  }

  /** Resolves when the connection is gone and the last message it sent is stored (or refused). */
  get finished(): Promise<void> {
    return this.closed.then(() => this.delivering).then(() => undefined);
  }

  get startTlsOffered(): boolean {
    return this.settings.startTls !== undefined && !this.connection.secure;
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
    this.mode = closedMode;
    this.connection.destroy();
  }

  send(line: Reply): void {
    this.outgoing.push(line);
  }

  // ---- command handlers (the table in commands.ts maps verbs to these) ----

  helo(argument: string, extended: boolean): void | BadSyntax {
    if (argument === '') return badSyntax;
    // The name goes into the stored Received line.
    if (controlCharacter.test(argument)) return this.send(reply.badHeloName('contains a control character'));
    this.gated('helo', {}, () => this.greet(argument.split(' ')[0], extended));
  }

  mail(argument: string): void | BadSyntax {
    if (this.transaction) return this.send(reply.badSequence('Sender already given (use RSET)'));
    const from = parseMail(argument, this.settings.maxMessageSize);
    if (typeof from !== 'string') return this.refuse(from);
    this.gated('mail', { from }, () => {
      this.transaction = { from, recipients: [] };
      this.send(reply.senderOk);
    });
  }

  rcpt(argument: string): void | BadSyntax {
    const transaction = this.transaction;
    if (!transaction) return this.send(reply.badSequence('Need MAIL before RCPT'));
    const to = parseRcpt(argument);
    if (typeof to !== 'string') return this.refuse(to);
    const checked = this.settings.store.check(to);
    if (!checked.ok) return this.send(reply.refusedRecipient(checked.reason));
    const max = this.settings.maxRecipients;
    if (transaction.recipients.length >= max) return this.send(reply.tooManyRecipients(max));
    const mailbox = checked.mailbox;
    this.gated('rcpt', { from: transaction.from, to: [mailbox.address] }, () => {
      // One copy per mailbox, however often it is named.
      if (!transaction.recipients.some((r) => r.address === mailbox.address)) transaction.recipients.push(mailbox);
      this.send(reply.recipientOk);
    });
  }

  data(argument: string): void | BadSyntax {
    if (argument !== '') return badSyntax;
    if (this.transaction?.body) return this.send(reply.badSequence('BDAT in progress, DATA not allowed'));
    const transaction = this.readyForBody();
    if (!transaction) return;
    const body = this.newBody(transaction);
    this.mode = { kind: 'data', transaction, body };
    this.input.startData();
    this.send(reply.startData);
  }

  bdat(argument: string): void | BadSyntax {
    const match = /^(\d+)(?: +(LAST))?$/i.exec(argument);
    if (!match) return badSyntax;
    const remaining = Number(match[1]);
    const transaction = this.transaction?.body ? this.transaction : this.readyForBody();
    // Refused: the chunk follows regardless, and must be read and thrown away to stay in step.
    if (!transaction) return void (this.mode = { kind: 'skip', remaining });
    const body = transaction.body ?? this.newBody(transaction);
    this.mode = { kind: 'bdat', transaction, body, remaining, last: match[2] !== undefined };
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
    if (initial !== undefined && !exchange.serverFirst) return this.authResponse(exchange, initial);
    this.mode = { kind: 'auth', exchange };
    this.send(reply.authChallenge(exchange.firstChallenge));
  }

  quit(): void {
    this.end(reply.closing(this.settings.serverName), true);
  }

  // ---- reading ----

  private receive(chunk: Buffer): void {
    if (this.mode.kind === 'closed') return;
    this.input.push(chunk);
    // Input arriving while a step is pending is kept, and no more is read until it is done.
    if (this.waiting) return this.reading.hold('pending');
    this.pump();
  }

  /** Consumes buffered input until it runs out, a step has to wait, or replies pile up unread. */
  private pump(): void {
    while (!this.waiting && !this.reading.isHeld('replies') && this.step());
    this.flush();
  }

  private repliesRead(): void {
    if (this.reading.release('replies')) this.pump();
  }

  /** Reads one thing in the current mode; false when the input ran out (or the session closed). */
  private step(): boolean {
    const mode = this.mode;
    switch (mode.kind) {
      case 'command':
      case 'auth':
        return this.readLine(mode);
      case 'data':
        if (!this.input.readData(mode.body)) return false;
        this.endOfMessage(mode.transaction, mode.body);
        return true;
      case 'bdat':
        return this.readChunk(mode);
      case 'skip':
        mode.remaining -= this.input.readBytes(mode.remaining, nowhere);
        if (mode.remaining > 0) return false;
        this.mode = commandMode;
        return true;
      case 'closed':
        return false;
    }
  }

  private readLine(mode: Extract<Mode, { kind: 'command' | 'auth' }>): boolean {
    const result = this.input.readLine();
    if (result === undefined) return false;
    if ('tooLong' in result) this.unrecognized(reply.lineTooLong(maxLineLength));
    else if (mode.kind === 'auth') this.authResponse(mode.exchange, result.line);
    else this.command(result.line, result.utf8);
    return true;
  }

  private readChunk(mode: Extract<Mode, { kind: 'bdat' }>): boolean {
    mode.remaining -= this.input.readBytes(mode.remaining, mode.body);
    if (mode.remaining > 0) return false;
    this.mode = commandMode;
    if (mode.last) this.endOfMessage(mode.transaction, mode.body);
    else if (mode.body.refusal) this.refuseBody(mode.body.refusal);
    else this.send(reply.chunkOk(mode.body.size));
    return true;
  }

  private command(line: string, utf8: boolean): void {
    const space = line.indexOf(' ');
    const verb = space < 0 ? line : line.slice(0, space);
    const argument = space < 0 ? '' : line.slice(space + 1).trim();
    const log = this.settings.log;
    if (log.enabled('debug'))
      log.debug(
        `SMTP ${this.clientAddress} C: ${/^auth$/i.test(verb) ? line.replace(/^(\S+ \S+) .*/, '$1 ****') : line}`,
      );
    const command = commandFor(verb);
    if (!command) return looksLikeHttp(line) ? this.refuseHttp(line) : this.unrecognized(reply.unknownCommand);
    this.unrecognizedInARow = 0;
    if (!utf8 && command.invalidUtf8) return this.send(command.invalidUtf8);
    if (command.run(this, argument) === badSyntax) this.send(reply.syntax(command.syntax));
  }

  private unrecognized(answer: Reply): void {
    if (++this.unrecognizedInARow < unrecognizedLimit) return this.send(answer);
    this.settings.log.info(`SMTP ${this.clientAddress}: ${unrecognizedLimit} unrecognized commands in a row; closing`);
    this.end(reply.tooManyUnrecognized);
  }

  private refuseHttp(line: string): void {
    const shown = line.length > 80 ? `${line.slice(0, 80)}...` : line;
    this.settings.log.warning(`SMTP ${this.clientAddress} sent an HTTP request ("${shown}"); closing the connection`);
    this.end(reply.httpRefused);
  }

  // ---- the steps behind the handlers ----

  private greet(name: string, extended: boolean): void {
    this.heloName = name;
    this.extended = extended;
    this.abortTransaction();
    const host = this.settings.serverName;
    this.send(extended ? reply.ehlo(host, name, ehloExtensions(this)) : reply.helo(host, name));
  }

  /** Sends a parser's refusal; bad syntax goes back to the dispatcher, which knows the command's. */
  private refuse(refusal: Reply | BadSyntax): void | BadSyntax {
    if (refusal === badSyntax) return badSyntax;
    this.send(refusal);
  }

  private authResponse(exchange: AuthExchange, line: string): void {
    this.mode = commandMode;
    if (this.settings.log.enabled('debug')) this.settings.log.debug(`SMTP ${this.clientAddress} C: ****`);
    if (line === '*') return this.send(reply.authCancelled);
    const decoded = decodeBase64(line);
    if (decoded === undefined) return this.send(reply.authBadEncoding);
    const step = exchange.respond(decoded);
    if ('challenge' in step) {
      this.mode = { kind: 'auth', exchange };
      return this.send(reply.authChallenge(step.challenge));
    }
    if ('malformed' in step) return this.send(reply.authBadEncoding);
    this.user = step.user;
    this.settings.log.debug(`SMTP ${this.clientAddress} authenticated as ${step.user}`);
    this.send(reply.authOk);
  }

  /** The transaction, if it may take a body now; otherwise the refusal is sent. */
  private readyForBody(): Transaction | undefined {
    const transaction = this.transaction;
    if (!transaction) this.send(reply.badSequence('Need MAIL and RCPT before the message'));
    else if (transaction.recipients.length === 0) this.send(reply.noValidRecipients);
    else return transaction;
    return undefined;
  }

  private newBody(transaction: Transaction): BodyReceiver {
    const body = new BodyReceiver(this.settings.store.receive(), this.settings.maxMessageSize, this.bodyEvents);
    transaction.body = body;
    return body;
  }

  private endOfMessage(transaction: Transaction, body: BodyReceiver): void {
    this.mode = commandMode;
    if (body.refusal) return this.refuseBody(body.refusal);
    const to = transaction.recipients.map((r) => r.address);
    const dropped = () => {
      // The gate answered instead of the store: the message is dropped.
      if (this.transaction === transaction) this.abortTransaction();
    };
    this.gated('data', { from: transaction.from, to }, () => this.store(transaction, body), dropped);
  }

  private store(transaction: Transaction, body: BodyReceiver): void {
    // From here the delivery owns the body: a client hanging up now must not discard it mid-write.
    transaction.body = undefined;
    const receivedAt = new Date();
    const id = messageId(receivedAt);
    this.waiting = true;
    const envelope = { from: transaction.from, to: transaction.recipients };
    this.delivering = this.settings.store
      .deliver(body.handOver(), envelope, this.trace(id, receivedAt))
      .then(
        () => this.send(reply.queued(id)),
        (error: Error) => {
          this.settings.log.error(`Storing message ${id} failed: ${error.message}`);
          this.send(reply.localError);
        },
      )
      .finally(() => {
        this.transaction = undefined;
        this.stepDone();
        if (this.closeAfterTransaction) return this.end(reply.shuttingDown);
        this.pump();
      });
  }

  private trace(id: string, receivedAt: Date): Trace {
    const protocol =
      `${this.extended ? 'ESMTP' : 'SMTP'}${this.connection.secure ? 'S' : ''}` +
      `${this.user !== undefined ? 'A' : ''}`;
    const { serverName } = this.settings;
    return { heloName: this.heloName, clientAddress: this.clientAddress, serverName, protocol, id, receivedAt };
  }

  /** Answers once the body is gone: a client that hears the refusal finds nothing of it left in MAIL_DIR. */
  private refuseBody(refusal: Reply): void {
    const gone = this.transaction?.body?.discard() ?? Promise.resolve();
    this.abortTransaction();
    this.waiting = true;
    void gone.finally(() => {
      this.stepDone();
      this.send(refusal);
      if (this.closeAfterTransaction) return this.end(reply.shuttingDown);
      this.pump();
    });
  }

  private abortTransaction(): void {
    void this.transaction?.body?.discard();
    this.transaction = undefined;
    if (this.mode.kind === 'data' || this.mode.kind === 'bdat') this.mode = commandMode;
  }

  // ---- flow ----

  /**
   * Runs `proceed` unless the gate says otherwise: after an optional delay (input held
   * meanwhile), it may hang up or send its own reply instead (then `refused` runs).
   */
  private gated(phase: Phase, context: Parameters<Gate>[1], proceed: () => void, refused?: () => void): void {
    const action = this.settings.gate?.(phase, context);
    if (!action) return proceed();
    if (!action.delayMs) return this.act(phase, action, proceed, refused);
    this.waiting = true;
    afterAtLeast(action.delayMs, () => {
      this.stepDone();
      this.act(phase, action, proceed, refused);
      this.pump();
    });
  }

  private act(phase: Phase, action: GateAction, proceed: () => void, refused?: () => void): void {
    if (this.mode.kind === 'closed') return;
    if (action.disconnect) {
      refused?.();
      // Replies to earlier pipelined commands still go out; only this command gets none.
      this.flush();
      return this.destroy();
    }
    if (!action.reply) return proceed();
    refused?.();
    const answer: Reply = { code: action.reply.code, text: action.reply.text };
    // A refused greeting ends the connection; any other refusal leaves it usable.
    if (phase === 'connect') this.end(answer);
    else this.send(answer);
  }

  private stepDone(): void {
    this.waiting = false;
    this.reading.release('pending');
  }

  private flush(): void {
    if (this.outgoing.length === 0 || this.mode.kind === 'closed') return;
    // Concatenated, not map().join(): see bench/README.md, "The CPU".
    let text = '';
    for (const line of this.outgoing) text += `${formatReply(line)}\r\n`;
    this.outgoing = [];
    const log = this.settings.log;
    if (log.enabled('debug')) log.debug(`SMTP ${this.clientAddress} S: ${text.trimEnd().replace(/\r\n/g, ' | ')}`);
    // The client is behind on reading: answering more would pile replies up in memory.
    if (!this.connection.write(text)) this.reading.hold('replies');
  }

  /** Sends the last reply and closes (see `Connection.end`). */
  private end(last: Reply, conversationOver = false): void {
    if (this.mode.kind === 'closed') return;
    this.send(last);
    this.flush();
    this.mode = closedMode;
    this.abortTransaction();
    this.connection.end(conversationOver);
  }
}

const idPrefix = randomBytes(3).toString('hex').toUpperCase();

function messageId(at: Date): string {
  return `${idPrefix}${at.getTime().toString(36).toUpperCase()}${(++idCounter).toString(36).toUpperCase()}`;
}
