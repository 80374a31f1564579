/**
 * The sendmail command line: the traditional getopt-style flags (clustered `-ti`, `-fADDR` or
 * `-f ADDR`), with the many flags a real MTA would act on accepted and ignored so this drops in
 * as PHP's `sendmail_path`, cron's mailer or git send-email's `--smtp-server`.
 */
import { unknownOptionText } from '../cli/suggest.js';
import { sendmailDefaults } from '../defaults.js';

/** sysexits.h codes this command uses. */
export const exitCodes = {
  ok: 0,
  /** Bad command line, or no recipients. */
  usage: 64,
  /** A recipient, the sender or the message was refused for good (5xx). */
  dataError: 65,
  /** No server answers (or it refused service, or hung up). */
  unavailable: 69,
  /** Reading standard input failed. */
  ioError: 74,
  /** The server said try again later (4xx), or took too long to answer. */
  tempFail: 75,
  /** The server's reply made no sense. */
  protocol: 76,
} as const;

export interface SendmailArgs {
  readonly help: boolean;
  /** -t: recipients from To, Cc and Bcc (added to those on the command line). */
  readonly extractRecipients: boolean;
  /** -i / -oi: a line with a single "." does not end the message. */
  readonly ignoreDots: boolean;
  /** -f / -r, brackets removed; '' is the null sender. Undefined: the default sender. */
  readonly sender: string | undefined;
  /** -F: the display name for a From header that has to be added. */
  readonly fullName: string | undefined;
  /** -v: the SMTP dialogue on standard error. */
  readonly verbose: boolean;
  /** Recipient arguments as given (each may hold several addresses separated by commas). */
  readonly recipients: readonly string[];
  readonly smtp: { readonly host: string; readonly port: number };
}

export class SendmailUsageError extends Error {
  override name = 'SendmailUsageError';
}

/** The long options, besides the single-letter flags. */
const longOptions = ['smtp', 'help'];
/** Flags that take no value; those not listed in `actions` are accepted and ignored. */
const plainFlags = new Set(['t', 'i', 'v', 'c', 'G', 'I', 'm', 'n', 's', 'T', 'U']);
/** Flags that take a value (in the same word or the next); ignored unless handled below. */
const valueFlags = new Set([
  'f',
  'r',
  'F',
  'o',
  'b',
  'B',
  'C',
  'd',
  'e',
  'h',
  'L',
  'M',
  'N',
  'O',
  'p',
  'R',
  'V',
  'X',
  'A',
]);

export function parseSendmailArgs(argv: readonly string[], env: NodeJS.ProcessEnv = {}): SendmailArgs {
  let help = false;
  let extractRecipients = false;
  let ignoreDots = false;
  let sender: string | undefined;
  let fullName: string | undefined;
  let verbose = false;
  let smtpText: string | undefined;
  const recipients: string[] = [];

  for (let index = 0; index < argv.length; index++) {
    const arg = argv[index];
    if (arg === '--') {
      recipients.push(...argv.slice(index + 1));
      break;
    }
    if (arg === '--help' || arg === '-help') {
      help = true;
      continue;
    }
    if (arg === '--smtp' || arg.startsWith('--smtp=')) {
      const value = arg === '--smtp' ? argv[++index] : arg.slice('--smtp='.length);
      if (value === undefined) throw new SendmailUsageError('--smtp needs HOST:PORT');
      smtpText = value;
      continue;
    }
    if (arg.startsWith('--')) throw new SendmailUsageError(unknownOptionText(arg, longOptions));
    if (!arg.startsWith('-') || arg === '-') {
      recipients.push(arg);
      continue;
    }
    // A cluster of single-letter flags; a flag with a value takes the rest of the word, else the next word.
    for (let at = 1; at < arg.length; at++) {
      const letter = arg[at];
      if (plainFlags.has(letter)) {
        if (letter === 't') extractRecipients = true;
        else if (letter === 'i') ignoreDots = true;
        else if (letter === 'v') verbose = true;
        continue;
      }
      if (letter === 'q') throw new SendmailUsageError('-q (queue runs) is not supported: messages are sent at once');
      if (!valueFlags.has(letter)) throw new SendmailUsageError(`unknown option -${letter}`);
      let value = arg.slice(at + 1);
      if (value === '') {
        if (index + 1 >= argv.length) throw new SendmailUsageError(`-${letter} needs a value`);
        value = argv[++index]!;
      }
      if (letter === 'f' || letter === 'r') sender = unbracket(value.trim());
      else if (letter === 'F') fullName = value;
      else if (letter === 'o' && value === 'i') ignoreDots = true;
      else if (letter === 'b' && value !== 'm')
        throw new SendmailUsageError(`-b${value} is not supported (only -bm, deliver a message from standard input)`);
      break;
    }
  }
  return {
    help,
    extractRecipients,
    ignoreDots,
    sender,
    fullName,
    verbose,
    recipients,
    smtp: parseSmtpAddress(smtpText ?? (env.TMS_SMTP || undefined)),
  };
}

/** `HOST:PORT`, `[IPv6]:PORT`, `PORT`, `HOST` or a bare IPv6 address; default 127.0.0.1:8025. */
export function parseSmtpAddress(text: string | undefined): { host: string; port: number } {
  const fallback = sendmailDefaults.server;
  if (text === undefined) return fallback;
  const trimmed = text.trim();
  const bad = () =>
    new SendmailUsageError(`--smtp must be HOST:PORT, such as ${fallback.host}:${fallback.port}, not "${text}"`);
  const port = (digits: string | undefined) => {
    if (digits === undefined) return fallback.port;
    const value = Number(digits);
    if (value < 1 || value > 65535) throw bad();
    return value;
  };
  if (/^\d+$/.test(trimmed)) return { host: fallback.host, port: port(trimmed) };
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(trimmed);
  if (bracketed) return { host: bracketed[1], port: port(bracketed[2]) };
  if (/^[0-9a-f]*:[0-9a-f]*:[0-9a-f:.]*$/i.test(trimmed)) return { host: trimmed, port: fallback.port };
  const plain = /^([^:\s]+)(?::(\d+))?$/.exec(trimmed);
  if (!plain) throw bad();
  return { host: plain[1], port: port(plain[2]) };
}

function unbracket(address: string): string {
  return address.startsWith('<') && address.endsWith('>') ? address.slice(1, -1).trim() : address;
}
