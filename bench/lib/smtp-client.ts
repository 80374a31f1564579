/** A minimal raw SMTP client for cases that need exact timing of what is written when. */
import * as net from 'node:net';

export class SmtpClient {
  private buffer = '';
  private lines: string[] = [];
  private readonly replies: string[] = [];
  private readonly waiting: Array<{ resolve: (reply: string) => void; reject: (error: Error) => void }> = [];
  private failure: Error | undefined;

  private constructor(private readonly socket: net.Socket) {
    socket.setNoDelay(true);
    socket.setEncoding('latin1');
    socket.on('data', (text: string) => this.onData(text));
    const fail = (error: Error) => {
      this.failure ??= error;
      for (const waiter of this.waiting.splice(0)) waiter.reject(this.failure);
    };
    socket.on('error', fail);
    socket.on('close', () => fail(new Error('SMTP connection closed')));
  }

  static async connect(port: number): Promise<SmtpClient> {
    const socket = net.connect({ host: '127.0.0.1', port });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    const client = new SmtpClient(socket);
    await client.reply(220);
    return client;
  }

  private onData(text: string): void {
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
  }

  /** The next reply; rejects unless it has the expected code. */
  async reply(expected: number): Promise<string> {
    const ready = this.replies.shift();
    const reply =
      ready ??
      (await new Promise<string>((resolve, reject) => {
        if (this.failure) return reject(this.failure);
        this.waiting.push({ resolve, reject });
      }));
    if (!reply.startsWith(String(expected))) throw new Error(`expected ${expected}, got "${reply}"`);
    return reply;
  }

  write(data: string): void {
    this.socket.write(data, 'latin1');
  }

  async command(line: string, expected: number): Promise<string> {
    this.write(`${line}\r\n`);
    return this.reply(expected);
  }

  async quit(): Promise<void> {
    try {
      await this.command('QUIT', 221);
    } finally {
      this.socket.destroy();
    }
  }

  destroy(): void {
    this.socket.destroy();
  }
}
