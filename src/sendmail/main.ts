/**
 * `test-mail-server sendmail`: reads one message on standard input and submits it by SMTP to a
 * running test-mail-server, so apps that pipe mail to a sendmail binary can be tested.
 * Silent on success; one line per problem on standard error; sysexits exit codes.
 */
import * as os from 'node:os';
import { sendmailDefaults } from '../defaults.js';
import { exitCodes, parseSendmailArgs, SendmailUsageError, type SendmailArgs } from './args.js';
import { mailParameters, SmtpClient, SmtpConnectionError, type SmtpReply } from './client.js';
import {
  dataPayload,
  hasEightBit,
  localDomain,
  parseAddresses,
  prepareMessage,
  readMessageLines,
  withDomain,
} from './message.js';

const command = 'test-mail-server sendmail';

export interface SendmailIo {
  readonly stdin: AsyncIterable<Buffer | string>;
  readonly stdout: { write(text: string): unknown };
  readonly stderr: { write(text: string): unknown };
  readonly env: NodeJS.ProcessEnv;
  /** Per-reply timeout; default 2 minutes. */
  readonly replyTimeoutMs?: number;
}

export const sendmailHelp = `Usage: ${command} [-t] [-i] [-f SENDER] [-F NAME] [--smtp HOST:PORT] [RECIPIENT...]

Reads a message on standard input and submits it by SMTP to a running test-mail-server,
for apps that pipe mail to a sendmail binary (PHP mail(), cron, git send-email). E.g.
  sendmail_path = "test-mail-server sendmail -t -i"            (php.ini)

Options:
  -t                 also send to the addresses in To, Cc and Bcc (added to any RECIPIENTs)
  -i, -oi            a line with a single "." does not end the message (without it, such a
                     line ends the message, as with traditional sendmail)
  -f SENDER          envelope sender (also -r); "" or "<>" for the null sender; default
                     $USER@${localDomain} (LOGNAME, then the login name, if USER is unset)
  -F NAME            display name for the From header that is added when the message has none
  -v                 show the SMTP conversation on standard error
  --smtp HOST:PORT   the server (default ${sendmailDefaults.server.host}:${sendmailDefaults.server.port}) [TMS_SMTP]
  --help             show this help
Accepted and ignored: -oX... (e.g. -odi, -oem), -bm, -B, -C, -d, -e, -h, -L, -N, -O, -p, -R, -V,
-X, -A (each with its value), and -c, -G, -I, -m, -n, -s, -T, -U.

The message may use LF or CRLF line ends; it is sent with CRLF. Bcc fields are always removed
from the message. A From field is added when missing (from the sender and -F). Addresses
without a domain get @${localDomain}. RECIPIENTs may hold several addresses separated by commas.

Silent on success. Exit status (sysexits.h):
  0   sent to every recipient
  64  EX_USAGE: bad usage, or no recipients
  65  EX_DATAERR: the server refused a recipient, the sender or the message for good (5xx);
      recipients it accepted still get the message
  69  EX_UNAVAILABLE: no server answers, or it refused service or hung up
  74  EX_IOERR: standard input could not be read
  75  EX_TEMPFAIL: the server said try again later (4xx), or did not answer within 2 minutes
  76  EX_PROTOCOL: the server's reply made no sense
`;

/** Runs the command; resolves with the exit status. */
export async function runSendmail(argv: readonly string[], io: SendmailIo): Promise<number> {
  const error = (message: string) => io.stderr.write(`${command}: ${message}\n`);
  let args: SendmailArgs;
  try {
    args = parseSendmailArgs(argv, io.env);
  } catch (caught) {
    if (!(caught instanceof SendmailUsageError)) throw caught;
    error(`${caught.message} (see ${command} --help)`);
    return exitCodes.usage;
  }
  if (args.help) {
    io.stdout.write(sendmailHelp);
    return exitCodes.ok;
  }
  const argRecipients = args.recipients.flatMap((arg) => {
    const parsed = parseAddresses(arg);
    return parsed.length > 0 || arg.trim() === '' ? parsed : [withDomain(arg.trim())];
  });
  if (argRecipients.length === 0 && !args.extractRecipients) {
    error(`no recipients: name them, or use -t to take them from To, Cc and Bcc (see ${command} --help)`);
    return exitCodes.usage;
  }

  let lines: string[];
  try {
    lines = await readMessageLines(io.stdin, args.ignoreDots);
  } catch (caught) {
    error(`cannot read the message from standard input: ${(caught as Error).message}`);
    return exitCodes.ioError;
  }
  const sender = args.sender === undefined ? defaultSender(io.env) : withDomain(args.sender);
  const message = prepareMessage(lines, { extractRecipients: args.extractRecipients, sender, fullName: args.fullName });
  const recipients = unique([...argRecipients, ...message.headerRecipients]);
  if (recipients.length === 0) {
    error('no recipients: the message has no addresses in To, Cc or Bcc');
    return exitCodes.usage;
  }

  const trace = args.verbose ? (line: string) => io.stderr.write(`${line}\n`) : undefined;
  let client: SmtpClient | undefined;
  try {
    client = await SmtpClient.connect({ ...args.smtp, trace, replyTimeoutMs: io.replyTimeoutMs });
    return await converse(client, sender, recipients, message.lines, error);
  } catch (caught) {
    if (!(caught instanceof SmtpConnectionError)) throw caught;
    const hint = caught.kind === 'connect' ? ` (is test-mail-server running? point to it with --smtp HOST:PORT)` : '';
    error(`${caught.message}${hint}`);
    return caught.kind === 'timeout'
      ? exitCodes.tempFail
      : caught.kind === 'protocol'
        ? exitCodes.protocol
        : exitCodes.unavailable;
  } finally {
    client?.close();
  }
}

async function converse(
  client: SmtpClient,
  sender: string,
  recipients: readonly string[],
  lines: readonly string[],
  error: (message: string) => void,
): Promise<number> {
  const refused = (what: string, reply: SmtpReply, service = false) => {
    error(`${what}: ${reply.lines.join(' / ')}`);
    if (reply.code >= 400 && reply.code < 500) return exitCodes.tempFail;
    return service ? exitCodes.unavailable : exitCodes.dataError;
  };

  const greeting = await client.reply('the greeting');
  if (greeting.code !== 220) return refused(`${client.where} refused the connection`, greeting, true);
  const { reply: hello, extensions } = await client.hello(heloName());
  if (hello.code !== 250) return refused(`${client.where} refused HELO`, hello, true);

  const payload = dataPayload(lines);
  const parameters = mailParameters(extensions, {
    size: payload.length,
    eightBit: hasEightBit(lines),
    addresses: [sender, ...recipients],
  });
  const mail = await client.command(`MAIL FROM:<${sender}>${parameters}`);
  if (mail.code !== 250) {
    const status = refused(`sender <${sender}> refused`, mail);
    await client.quit();
    return status;
  }

  let status: number = exitCodes.ok;
  let accepted = 0;
  for (const recipient of recipients) {
    const reply = await client.command(`RCPT TO:<${recipient}>`);
    if (reply.code === 250 || reply.code === 251) accepted++;
    else if (status === exitCodes.ok) status = refused(`<${recipient}>`, reply);
    else refused(`<${recipient}>`, reply);
  }
  if (accepted === 0) {
    await client.quit();
    return status;
  }

  const start = await client.command('DATA');
  if (start.code !== 354) {
    const dataStatus = refused('DATA refused', start);
    await client.quit();
    return status === exitCodes.ok ? dataStatus : status;
  }
  const end = await client.sendData(payload);
  await client.quit();
  if (end.code !== 250) {
    const dataStatus = refused('message refused', end);
    return status === exitCodes.ok ? dataStatus : status;
  }
  return status;
}

/** `$USER@localhost`, else LOGNAME, else the login name; `nobody` if none is known. */
function defaultSender(env: NodeJS.ProcessEnv): string {
  let user = env.USER || env.LOGNAME;
  if (!user) {
    try {
      user = os.userInfo().username;
    } catch {
      user = undefined;
    }
  }
  return `${user || 'nobody'}@${localDomain}`;
}

function heloName(): string {
  const name = os.hostname();
  return /^[A-Za-z0-9.-]+$/.test(name) ? name : 'localhost';
}

function unique(addresses: readonly string[]): string[] {
  const seen = new Set<string>();
  return addresses.filter((address) => {
    // Only the domain is case-insensitive (RFC 5321 §2.4), as in the store.
    const at = address.lastIndexOf('@');
    const key = at < 0 ? address : address.slice(0, at) + address.slice(at).toLowerCase();
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
