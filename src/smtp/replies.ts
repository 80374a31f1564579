/**
 * Every reply the SMTP server sends, in one place: code, enhanced status code (RFC 3463),
 * text. Multi-line replies are built by `multiline`.
 */

export const reply = {
  greeting: (host: string) => `220 ${host} ESMTP test-mail-server ready`,
  closing: (host: string) => `221 2.0.0 ${host} closing connection`,
  ok: '250 2.0.0 OK',
  helo: (host: string, client: string) => `250 ${host} greets ${client}`,
  senderOk: '250 2.1.0 Sender OK',
  recipientOk: '250 2.1.5 Recipient OK',
  queued: (id: string) => `250 2.0.0 OK: stored as ${id}`,
  chunkOk: (size: number) => `250 2.0.0 ${size} octets received`,
  resetOk: '250 2.0.0 Reset OK',
  cannotVerify: '252 2.5.2 Cannot VRFY user, but will accept message and attempt delivery',
  help: '214 2.0.0 Commands: HELO EHLO MAIL RCPT DATA BDAT RSET NOOP VRFY HELP QUIT STARTTLS AUTH',
  authOk: '235 2.7.0 Authentication successful',
  authChallenge: (base64: string) => `334 ${base64}`,
  startData: '354 End data with <CR><LF>.<CR><LF>',
  startTls: '220 2.0.0 Ready to start TLS',
  shuttingDown: '421 4.3.2 Server shutting down, try again later',
  idleTimeout: '421 4.4.2 Idle timeout, closing connection',
  localError: '451 4.3.0 Error storing the message, try again later',
  tooManyRecipients: (max: number) => `452 4.5.3 Too many recipients (at most ${max} per message)`,
  unknownCommand: '500 5.5.2 Command not recognized',
  lineTooLong: (max: number) => `500 5.5.2 Line too long (at most ${max} octets)`,
  syntax: (what: string) => `501 5.5.4 Syntax: ${what}`,
  badAddress: (what: string) => `501 5.1.7 Bad address syntax: ${what}`,
  authCancelled: '501 5.0.0 Authentication cancelled',
  authBadEncoding: '501 5.5.2 Cannot decode the response (base64 expected)',
  unsupported: (verb: string) => `502 5.5.1 ${verb} not supported`,
  badSequence: (what: string) => `503 5.5.1 ${what}`,
  unknownMechanism: '504 5.5.4 Unrecognized authentication mechanism; use PLAIN, LOGIN or CRAM-MD5',
  tooBig: (max: number) => `552 5.3.4 Message too big (at most ${max} octets)`,
  refusedRecipient: (reason: string) => `553 5.1.3 Mailbox name not allowed: ${reason}`,
  noValidRecipients: '554 5.5.1 No valid recipients',
  tlsNotOffered: '502 5.5.1 STARTTLS not offered (start the server with --tls)',
  unknownParameter: (name: string) => `555 5.5.4 Unsupported parameter ${name}`,
} as const;

/** Joins `250-a`, `250-b`, `250 c` from a code and lines. */
export function multiline(code: number, lines: readonly string[]): string {
  return lines.map((line, i) => `${code}${i === lines.length - 1 ? ' ' : '-'}${line}`).join('\r\n');
}
