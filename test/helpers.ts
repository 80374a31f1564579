/** Shared by the tests: real servers on free ports with their own temp MAIL_DIRs, and real clients. */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  inboxName,
  startTestMailServer,
  type MailReader,
  type TestMailServer,
  type TestMailServerOptions,
} from '../src/index.js';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const cliPath = path.join(repoRoot, 'src', 'cli.ts');
/** tsx's loader by absolute URL, so child processes can run TypeScript from any working directory. */
export const tsxLoader = import.meta.resolve('tsx');

/** A port that was free a moment ago (for servers that must be started on a known port). */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** This test process's scratch folder, removed when the process exits: runs leave no litter. */
let scratch: string | undefined;

export async function tempDir(prefix = 'tms-test-'): Promise<string> {
  if (scratch === undefined) {
    const root = mkdtempSync(path.join(os.tmpdir(), `tms-run-${process.pid}-`));
    process.once('exit', () => rmSync(root, { recursive: true, force: true }));
    scratch = root;
  }
  return mkdtemp(path.join(scratch, prefix));
}

/** A library server on a free port, with its own MAIL_DIR (kept after close, so tests can still look). */
export async function startServer(options: TestMailServerOptions = {}): Promise<TestMailServer> {
  return startTestMailServer({ mailDir: await tempDir(), ...options });
}

/** A server for the length of `body`, closed whatever happens; its temp MAIL_DIR goes with it. */
export async function withServer<T>(
  body: (server: TestMailServer) => Promise<T>,
  options: TestMailServerOptions = {},
): Promise<T> {
  const server = await startTestMailServer(options);
  try {
    return await body(server);
  } finally {
    await server.close();
  }
}

export class ConnectionClosedError extends Error {
  constructor() {
    super('connection closed');
  }
}

/**
 * A raw SMTP conversation: `send` writes a line (or raw bytes) and `reply` waits for the next
 * complete reply (multi-line replies joined with \n).
 */
export class RawSmtp {
  private buffer = '';
  private lines: string[] = [];
  private waiting: Array<{ resolve: (reply: string) => void; reject: (error: Error) => void }> = [];
  private replies: string[] = [];
  private isClosed = false;
  readonly closed: Promise<void>;

  private constructor(readonly socket: net.Socket) {
    // Each line goes out when written, as a real client's would (else Nagle holds back the final ".").
    socket.setNoDelay(true);
    socket.setEncoding('utf8');
    socket.on('data', (text: string) => {
      this.buffer += text;
      let end;
      while ((end = this.buffer.indexOf('\n')) >= 0) {
        const line = this.buffer.slice(0, end).replace(/\r$/, '');
        this.buffer = this.buffer.slice(end + 1);
        this.lines.push(line);
        if (/^\d{3}-/.test(line)) continue;
        const reply = this.lines.join('\n');
        this.lines = [];
        const waiter = this.waiting.shift();
        if (waiter) waiter.resolve(reply);
        else this.replies.push(reply);
      }
    });
    // A reset by the server is one way for a connection to end; `closed` and `reply` report it.
    socket.on('error', () => {});
    this.closed = new Promise((resolve) =>
      socket.on('close', () => {
        this.isClosed = true;
        for (const waiter of this.waiting.splice(0)) waiter.reject(new ConnectionClosedError());
        resolve();
      }),
    );
  }

  static async connect(port: number, host = '127.0.0.1'): Promise<RawSmtp> {
    const socket = net.connect(port, host);
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    return new RawSmtp(socket);
  }

  /** The next reply; rejects with ConnectionClosedError once the connection is gone. */
  reply(): Promise<string> {
    const ready = this.replies.shift();
    if (ready !== undefined) return Promise.resolve(ready);
    if (this.isClosed) return Promise.reject(new ConnectionClosedError());
    return new Promise((resolve, reject) => this.waiting.push({ resolve, reject }));
  }

  send(data: string | Buffer): void {
    this.socket.write(typeof data === 'string' ? `${data}\r\n` : data);
  }

  /** Sends a command and returns its reply. */
  async command(line: string): Promise<string> {
    this.send(line);
    return this.reply();
  }

  /** MAIL FROM and one RCPT TO per recipient, each of which must be accepted. */
  async envelope(from: string, recipients: readonly string[]): Promise<void> {
    expectCode(await this.command(`MAIL FROM:<${from}>`), 250);
    for (const to of recipients) expectCode(await this.command(`RCPT TO:<${to}>`), 250);
  }

  /** The envelope, then DATA answered with 354: the message bytes come next. */
  async startData(from: string, recipients: readonly string[]): Promise<void> {
    await this.envelope(from, recipients);
    expectCode(await this.command('DATA'), 354);
  }

  close(): void {
    this.socket.destroy();
  }
}

function expectCode(reply: string, code: number): void {
  if (!reply.startsWith(String(code))) throw new Error(`expected ${code}, got "${reply}"`);
}

/** Runs python3 with a script; resolves with stdout, rejects with stderr on a non-zero exit. */
export function python(script: string, args: string[] = []): Promise<string> {
  return run('python3', ['-c', script, ...args]);
}

export interface RunOptions {
  input?: string | Buffer;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

/** Runs a program to its end: its exit code and output, whatever the code. */
export function exec(
  command: string,
  args: string[],
  options: RunOptions = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env: options.env ?? process.env, cwd: options.cwd });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (text: string) => (stdout += text));
    child.stderr.setEncoding('utf8').on('data', (text: string) => (stderr += text));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    // A program may stop reading early (sendmail at a "." line): a closed pipe is expected then.
    child.stdin.on('error', () => {});
    child.stdin.end(options.input);
  });
}

/** Runs a program; resolves with its stdout, rejects with its output on a non-zero exit. */
export async function run(command: string, args: string[], options: RunOptions = {}): Promise<string> {
  const { code, stdout, stderr } = await exec(command, args, options);
  if (code !== 0) throw new Error(`${command} exited ${code}: ${stderr || stdout}`);
  return stdout;
}

/** The CLI as a child process (through tsx, no build needed), with its log lines collected. */
export class CliProcess {
  stderr = '';
  stdout = '';
  readonly exited: Promise<number | null>;

  constructor(readonly child: ChildProcess) {
    child.stderr!.setEncoding('utf8').on('data', (text: string) => (this.stderr += text));
    child.stdout!.setEncoding('utf8').on('data', (text: string) => (this.stdout += text));
    this.exited = new Promise((resolve) => child.on('exit', (code) => resolve(code)));
  }

  /** The HTTP API on a free port unless `env` or `args` say otherwise, so parallel CLIs never meet on 8080. */
  static start(args: string[], env: NodeJS.ProcessEnv = {}, cwd = repoRoot): CliProcess {
    return new CliProcess(
      spawn(process.execPath, ['--import', tsxLoader, cliPath, ...args], {
        env: { ...process.env, TMS_HTTP_PORT: '0', ...env },
        cwd,
      }),
    );
  }

  /** Waits until the log shows `pattern` (or the process exits). */
  async waitForLog(pattern: RegExp): Promise<RegExpExecArray> {
    for (;;) {
      const match = pattern.exec(this.stderr);
      if (match) return match;
      const more = await Promise.race([
        new Promise<'data'>((resolve) => this.child.stderr!.once('data', () => resolve('data'))),
        this.exited.then(() => 'exit' as const),
      ]);
      if (more === 'exit') {
        const last = pattern.exec(this.stderr);
        if (last) return last;
        throw new Error(`process exited before logging ${pattern}; stderr:\n${this.stderr}`);
      }
    }
  }

  /** Waits until the server at `port` greets (for servers started with LOG_LEVEL=ERROR, which log nothing). */
  static async greeting(port: number): Promise<void> {
    for (;;) {
      try {
        const smtp = await RawSmtp.connect(port);
        await smtp.reply();
        smtp.close();
        return;
      } catch {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    }
  }

  /** Starts the CLI on a free port and resolves with that port once it listens. */
  static async listening(
    mailDir: string,
    args: string[] = [],
    env: NodeJS.ProcessEnv = {},
  ): Promise<{ cli: CliProcess; port: number }> {
    const cli = CliProcess.start([mailDir, '--smtp-port', '0', ...args], env);
    const match = await cli.waitForLog(/SMTP listening on [^\s]+:(\d+)/);
    return { cli, port: Number(match[1]) };
  }
}

/** The message numbers in a mailbox's INBOX, as the store's index has them. */
export function inboxNumbers(store: MailReader, mailbox: string): number[] {
  return store.messages({ mailbox, folder: inboxName }).map((message) => message.number);
}
