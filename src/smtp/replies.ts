/**
 * Every reply the SMTP server sends, in one catalogue: code, enhanced status code (RFC 3463)
 * and text, formatted into protocol lines by `formatReply` alone. Tests import the catalogue
 * instead of repeating its strings.
 */

export interface Reply {
  readonly code: number;
  /** `class.subject.detail`; absent where RFC 2034 has none (greeting, EHLO, HELO, 334 challenges). */
  readonly enhanced?: string;
  readonly text: string;
  /** Further lines of a multi-line reply (EHLO's extension keywords). */
  readonly more?: readonly string[];
}

const greets = (host: string, client: string) => `${host} greets ${client}`;

const entry = (code: number, enhanced: string | undefined, text: string): Reply =>
  enhanced === undefined ? { code, text } : { code, enhanced, text };

export const reply = {
  greeting: (host: string) => entry(220, undefined, `${host} ESMTP test-mail-server ready`),
  closing: (host: string) => entry(221, '2.0.0', `${host} closing connection`),
  ok: entry(250, '2.0.0', 'OK'),
  helo: (host: string, client: string) => entry(250, undefined, greets(host, client)),
  // Spelled out, not a spread of helo's: in Node 20's V8 the spread alone took a microsecond.
  ehlo: (host: string, client: string, extensions: readonly string[]): Reply => ({
    code: 250,
    text: greets(host, client),
    more: extensions,
  }),
  senderOk: entry(250, '2.1.0', 'Sender OK'),
  recipientOk: entry(250, '2.1.5', 'Recipient OK'),
  queued: (id: string) => entry(250, '2.0.0', `OK: stored as ${id}`),
  chunkOk: (size: number) => entry(250, '2.0.0', `${size} octets received`),
  resetOk: entry(250, '2.0.0', 'Reset OK'),
  cannotVerify: entry(252, '2.5.2', 'Cannot VRFY user, but will accept message and attempt delivery'),
  help: (verbs: readonly string[]) => entry(214, '2.0.0', `Commands: ${verbs.join(' ')}`),
  helpSyntax: (syntax: string) => entry(214, '2.0.0', `Syntax: ${syntax}`),
  authOk: entry(235, '2.7.0', 'Authentication successful'),
  authChallenge: (base64: string) => entry(334, undefined, base64),
  startData: entry(354, undefined, 'End data with <CR><LF>.<CR><LF>'),
  startTls: entry(220, '2.0.0', 'Ready to start TLS'),
  shuttingDown: entry(421, '4.3.2', 'Server shutting down, try again later'),
  idleTimeout: entry(421, '4.4.2', 'Idle timeout, closing connection'),
  httpRefused: entry(421, '4.7.0', 'This is an SMTP server, not HTTP; closing connection'),
  tooManyUnrecognized: entry(421, '4.7.0', 'Too many unrecognized commands, closing connection'),
  localError: entry(451, '4.3.0', 'Error storing the message, try again later'),
  tooManyRecipients: (max: number) => entry(452, '4.5.3', `Too many recipients (at most ${max} per message)`),
  unknownCommand: entry(500, '5.5.2', 'Command not recognized'),
  lineTooLong: (max: number) => entry(500, '5.5.2', `Line too long (at most ${max} octets)`),
  syntax: (what: string) => entry(501, '5.5.4', `Syntax: ${what}`),
  badAddress: (what: string) => entry(501, '5.1.7', `Bad address syntax: ${what}`),
  badHeloName: (reason: string) => entry(501, '5.5.4', `Bad HELO/EHLO name: ${reason}`),
  authCancelled: entry(501, '5.0.0', 'Authentication cancelled'),
  authBadEncoding: entry(501, '5.5.2', 'Cannot decode the response (base64 expected)'),
  unsupported: (verb: string) => entry(502, '5.5.1', `${verb} not supported`),
  tlsNotOffered: entry(502, '5.5.1', 'STARTTLS not offered (TLS is not configured)'),
  badSequence: (what: string) => entry(503, '5.5.1', what),
  unknownMechanism: (mechanisms: readonly string[]) =>
    entry(504, '5.5.4', `Unrecognized authentication mechanism; use ${mechanisms.join(', ')}`),
  unknownHelpTopic: (topic: string) => entry(504, '5.5.4', `No help for ${topic}; HELP lists the commands`),
  tooBig: (max: number) => entry(552, '5.3.4', `Message too big (at most ${max} octets)`),
  refusedSender: (reason: string) => entry(553, '5.1.7', `Sender address not allowed: ${reason}`),
  refusedRecipient: (reason: string) => entry(553, '5.1.3', `Mailbox name not allowed: ${reason}`),
  noValidRecipients: entry(554, '5.5.1', 'No valid recipients'),
  unknownParameter: (name: string) => entry(555, '5.5.4', `Unsupported parameter ${name}`),
} as const;

/** What a handler returns when the arguments do not fit: the reply is 501 with the command's syntax. */
export const badSyntax = Symbol('bad syntax');
export type BadSyntax = typeof badSyntax;

/** The reply as it goes on the wire, without the final CRLF: `250 2.1.0 Sender OK`, or `250-...` lines. */
export function formatReply({ code, enhanced, text, more }: Reply): string {
  const first = enhanced === undefined ? text : `${enhanced} ${text}`;
  if (more === undefined || more.length === 0) return `${code} ${first}`;
  // Concatenated, not map().join(): see bench/README.md, "The CPU".
  let lines = `${code}-${first}`;
  for (let i = 0; i < more.length; i++) lines += `\r\n${code}${i === more.length - 1 ? ' ' : '-'}${more[i]}`;
  return lines;
}
