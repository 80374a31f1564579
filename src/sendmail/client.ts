/**
 * A small SMTP client on node:net, just enough to submit one message to the test server:
 * greeting, EHLO (HELO if refused), MAIL, RCPT per recipient, DATA, QUIT. No TLS, no AUTH.
 */
import * as net from 'node:net';
import { hostPort } from '../listen.js';

export interface SmtpReply {
  readonly code: number;
  /** Every line's text after the code, joined with a space. */
  readonly text: string;
  /** The lines as received, for error messages and -v. */
  readonly lines: readonly string[];
}

/** Why the conversation could not go on: the server is gone, silent, or talks nonsense. */
export class SmtpConnectionError extends Error {
  constructor(
    message: string,
    readonly kind: 'connect' | 'closed' | 'timeout' | 'protocol',
  ) {
    super(message);
    this.name = 'SmtpConnectionError';
  }
}

export interface ClientOptions {
  readonly host: string;
  readonly port: number;
  readonly connectTimeoutMs?: number;
  readonly replyTimeoutMs?: number;
  /** Called with each line sent (`>>> `) and received (`<<< `). */
  readonly trace?: ((line: string) => void) | undefined;
}

export class SmtpClient {
  private buffer = '';
  private lines: string[] = [];
  private readonly replies: SmtpReply[] = [];
  private waiter: { resolve: (reply: SmtpReply) => void; reject: (error: Error) => void } | undefined;
  private failure: SmtpConnectionError | undefined;
  private phase = 'the greeting';

  private constructor(
    private readonly socket: net.Socket,
    private readonly options: ClientOptions,
  ) {
    socket.setEncoding('utf8');
    socket.on('data', (text: string) => this.receive(text));
    socket.on('error', (error) =>
      this.fail(
        new SmtpConnectionError(`connection to ${this.where} failed during ${this.phase}: ${error.message}`, 'closed'),
      ),
    );
    socket.on('close', () =>
      this.fail(new SmtpConnectionError(`${this.where} closed the connection during ${this.phase}`, 'closed')),
    );
  }

  static connect(options: ClientOptions): Promise<SmtpClient> {
    const where = hostPort(options.host, options.port);
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host: options.host, port: options.port });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(
          new SmtpConnectionError(
            `no answer from ${where} within ${(options.connectTimeoutMs ?? 10_000) / 1000} s`,
            'connect',
          ),
        );
      }, options.connectTimeoutMs ?? 10_000);
      socket.once('error', (error: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        reject(new SmtpConnectionError(`cannot connect to ${where}: ${describeError(error)}`, 'connect'));
      });
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.removeAllListeners('error');
        resolve(new SmtpClient(socket, options));
      });
    });
  }

  get where(): string {
    return hostPort(this.options.host, this.options.port);
  }

  /** The next reply (the greeting first). */
  reply(phase?: string): Promise<SmtpReply> {
    if (phase) this.phase = phase;
    const ready = this.replies.shift();
    if (ready) return Promise.resolve(ready);
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      const timeoutMs = this.options.replyTimeoutMs ?? 120_000;
      const timer = setTimeout(() => {
        this.waiter = undefined;
        reject(
          new SmtpConnectionError(
            `no reply from ${this.where} to ${this.phase} within ${timeoutMs / 1000} s`,
            'timeout',
          ),
        );
      }, timeoutMs);
      this.waiter = {
        resolve: (reply) => {
          clearTimeout(timer);
          resolve(reply);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      };
    });
  }

  /** EHLO, or HELO where EHLO is refused: the last reply, and the extensions EHLO named (none after HELO). */
  async hello(name: string): Promise<{ reply: SmtpReply; extensions: ReadonlySet<string> }> {
    const ehlo = await this.command(`EHLO ${name}`);
    if (ehlo.code !== 250) return { reply: await this.command(`HELO ${name}`), extensions: new Set() };
    const extensions = new Set(ehlo.lines.slice(1).map((line) => line.slice(4).split(' ')[0].toUpperCase()));
    return { reply: ehlo, extensions };
  }

  /** Sends one command line and waits for its reply. */
  command(line: string, phase = line.split(/[ :]/)[0].toUpperCase()): Promise<SmtpReply> {
    this.options.trace?.(`>>> ${line}`);
    this.socket.write(`${line}\r\n`, 'utf8');
    return this.reply(phase);
  }

  /** Sends the DATA payload (already dot-stuffed, ending in ".") and waits for the reply. */
  sendData(payload: Buffer): Promise<SmtpReply> {
    this.options.trace?.(`>>> (the message, ${payload.length - 3} octets, then ".")`);
    this.socket.write(payload);
    return this.reply('the end of the message');
  }

  /** QUIT, then waits briefly for the connection to close; errors here no longer matter. */
  async quit(): Promise<void> {
    if (!this.failure) {
      try {
        await Promise.race([this.command('QUIT'), new Promise((resolve) => setTimeout(resolve, 2000).unref())]);
      } catch {
        // The message is already stored or refused.
      }
    }
    this.socket.destroy();
  }

  close(): void {
    this.socket.destroy();
  }

  private receive(text: string): void {
    this.buffer += text;
    let end;
    while ((end = this.buffer.indexOf('\n')) >= 0) {
      const line = this.buffer.slice(0, end).replace(/\r$/, '');
      this.buffer = this.buffer.slice(end + 1);
      this.options.trace?.(`<<< ${line}`);
      const match = /^(\d{3})([ -]?)(.*)$/.exec(line);
      if (!match) {
        this.fail(
          new SmtpConnectionError(`unexpected reply from ${this.where} during ${this.phase}: "${line}"`, 'protocol'),
        );
        this.socket.destroy();
        return;
      }
      this.lines.push(line);
      if (match[2] === '-') continue;
      const lines = this.lines;
      this.lines = [];
      const reply: SmtpReply = { code: Number(match[1]), text: lines.map((l) => l.slice(4)).join(' '), lines };
      const waiter = this.waiter;
      this.waiter = undefined;
      if (waiter) waiter.resolve(reply);
      else this.replies.push(reply);
    }
  }

  private fail(error: SmtpConnectionError): void {
    this.failure ??= error;
    const waiter = this.waiter;
    this.waiter = undefined;
    waiter?.reject(this.failure);
  }
}

function describeError(error: NodeJS.ErrnoException): string {
  switch (error.code) {
    case 'ECONNREFUSED':
      return 'connection refused';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return 'unknown host';
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return 'host unreachable';
    default:
      return error.message;
  }
}

/**
 * The MAIL FROM parameters a message needs where the server offers them (` SIZE=n BODY=8BITMIME
 * SMTPUTF8`, each only if offered and needed), with its leading space; '' for none.
 */
export function mailParameters(
  extensions: ReadonlySet<string>,
  message: { readonly size?: number; readonly eightBit: boolean; readonly addresses: readonly string[] },
): string {
  const parameters: string[] = [];
  if (message.size !== undefined && extensions.has('SIZE')) parameters.push(`SIZE=${message.size}`);
  if (message.eightBit && extensions.has('8BITMIME')) parameters.push('BODY=8BITMIME');
  if (extensions.has('SMTPUTF8') && message.addresses.some((address) => /[^\x00-\x7f]/.test(address)))
    parameters.push('SMTPUTF8');
  return parameters.map((parameter) => ` ${parameter}`).join('');
}
