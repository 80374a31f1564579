/**
 * The command table: each SMTP command once, with its syntax (for HELP and for 501 replies),
 * when it is offered, and the EHLO keywords it brings. HELP and the EHLO extension list are
 * derived from it, so neither can name what the session does not offer.
 */
import { mechanisms } from './auth.js';
import { reply, type BadSyntax, type Reply } from './replies.js';
import type { SmtpSession } from './session.js';

export interface Command {
  readonly verb: string;
  readonly syntax: string;
  /** Whether HELP lists it and EHLO advertises its keywords now; default: always. */
  readonly offered?: (session: SmtpSession) => boolean;
  /** EHLO keywords that come with it. */
  readonly extensions?: (session: SmtpSession) => readonly string[];
  /**
   * The reply to a line that is not valid UTF-8, for commands whose argument is kept: decoded
   * leniently, different bytes would become the same U+FFFD (two recipients one mailbox).
   */
  readonly invalidUtf8?: Reply;
  readonly run: (session: SmtpSession, argument: string) => void | BadSyntax;
}

/** Keywords of the session as a whole rather than of one command. */
const sessionExtensions = ['PIPELINING', 'ENHANCEDSTATUSCODES'];

/** RFC 3463 X.1.7 and X.1.3: bad sender and destination address syntax. */
const notUtf8 = {
  helo: reply.badHeloName('not valid UTF-8'),
  sender: reply.refusedSender('not valid UTF-8'),
  recipient: reply.refusedRecipient('not valid UTF-8'),
};

const commands: readonly Command[] = [
  { verb: 'HELO', syntax: 'HELO hostname', invalidUtf8: notUtf8.helo, run: (s, a) => s.helo(a, false) },
  { verb: 'EHLO', syntax: 'EHLO hostname', invalidUtf8: notUtf8.helo, run: (s, a) => s.helo(a, true) },
  {
    verb: 'MAIL',
    syntax: 'MAIL FROM:<address> [parameters]',
    extensions: (s) => ['8BITMIME', 'SMTPUTF8', `SIZE ${s.settings.maxMessageSize}`],
    invalidUtf8: notUtf8.sender,
    run: (s, a) => s.mail(a),
  },
  {
    verb: 'RCPT',
    syntax: 'RCPT TO:<address> [parameters]',
    invalidUtf8: notUtf8.recipient,
    run: (s, a) => s.rcpt(a),
  },
  { verb: 'DATA', syntax: 'DATA', run: (s, a) => s.data(a) },
  { verb: 'BDAT', syntax: 'BDAT <size> [LAST]', extensions: () => ['CHUNKING'], run: (s, a) => s.bdat(a) },
  { verb: 'RSET', syntax: 'RSET', run: (s) => s.reset() },
  { verb: 'NOOP', syntax: 'NOOP [text]', run: (s) => s.send(reply.ok) },
  { verb: 'VRFY', syntax: 'VRFY <address>', run: (s) => s.send(reply.cannotVerify) },
  // Known, so it gets 502 rather than 500, but never offered (RFC 5321 §3.5.3 lets it be refused).
  { verb: 'EXPN', syntax: 'EXPN <list>', offered: () => false, run: (s) => s.send(reply.unsupported('EXPN')) },
  { verb: 'HELP', syntax: 'HELP [command]', run: (s, a) => s.send(help(s, a)) },
  { verb: 'QUIT', syntax: 'QUIT', run: (s) => s.quit() },
  {
    verb: 'STARTTLS',
    syntax: 'STARTTLS',
    offered: (s) => s.startTlsOffered,
    extensions: () => ['STARTTLS'],
    run: (s) => s.startTls(),
  },
  {
    verb: 'AUTH',
    syntax: 'AUTH <mechanism> [initial-response]',
    extensions: () => [`AUTH ${mechanisms.join(' ')}`],
    run: (s, a) => s.authenticate(a),
  },
];

const byVerb = new Map(commands.map((command) => [command.verb, command]));

/** The command a verb names (any case), if there is one. */
export function commandFor(verb: string): Command | undefined {
  return byVerb.get(verb.toUpperCase());
}

function offered(command: Command, session: SmtpSession): boolean {
  return command.offered?.(session) ?? true;
}

/** The EHLO keywords, after its greeting line. */
export function ehloExtensions(session: SmtpSession): string[] {
  const keywords = sessionExtensions.slice();
  for (const command of commands) {
    if (!command.extensions || !offered(command, session)) continue;
    for (const keyword of command.extensions(session)) keywords.push(keyword);
  }
  return keywords;
}

/** HELP lists the offered commands; `HELP verb` gives its syntax. */
function help(session: SmtpSession, topic: string): Reply {
  if (topic === '')
    return reply.help(commands.filter((command) => offered(command, session)).map((command) => command.verb));
  const command = commandFor(topic);
  return command && offered(command, session) ? reply.helpSyntax(command.syntax) : reply.unknownHelpTopic(topic);
}

/**
 * An HTTP request line or header field, as a browser sends when a web page posts to this port
 * (with SMTP commands in the body: a cross-protocol attack). Postfix's smtpd hangs up on these too.
 */
const httpLine = /^(?:(?:GET|HEAD|POST|PUT|DELETE|OPTIONS|CONNECT|PATCH|TRACE|PRI) |[!#$%&'*+.^_`|~\w-]+:)/i;

export function looksLikeHttp(line: string): boolean {
  return httpLine.test(line);
}
