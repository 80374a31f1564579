/**
 * The trace lines a delivering MTA puts above each stored copy (RFC 5321 §4.4):
 * Return-Path, Delivered-To, and our Received line naming who handed the message over.
 */

export interface Trace {
  /** Name the client gave in HELO/EHLO ('' when it skipped the greeting). */
  readonly heloName: string;
  readonly clientAddress: string;
  /** Our host name, as the greeting gives it. */
  readonly serverName: string;
  /** RFC 3848 keyword: SMTP, ESMTP, ESMTPS, ESMTPA, ESMTPSA. */
  readonly protocol: string;
  /** Queue id, also in the 250 reply, so a log line and a file can be matched. */
  readonly id: string;
  readonly receivedAt: Date;
}

export function traceHeader(trace: Trace, sender: string, recipient: string): Buffer {
  const helo = trace.heloName === '' ? 'unknown' : trace.heloName;
  return Buffer.from(
    `Return-Path: <${sender}>\r\n` +
      `Delivered-To: ${recipient}\r\n` +
      `Received: from ${helo} ([${trace.clientAddress}])\r\n` +
      `\tby ${trace.serverName} (test-mail-server) with ${trace.protocol} id ${trace.id}\r\n` +
      `\tfor <${recipient}>; ${rfc5322Date(trace.receivedAt)}\r\n`,
  );
}

const days = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** `Tue, 24 Nov 2026 09:05:03 +0000`: in UTC, so stored mail does not depend on the machine's zone. */
function rfc5322Date(date: Date): string {
  const two = (n: number) => String(n).padStart(2, '0');
  return (
    `${days[date.getUTCDay()]}, ${date.getUTCDate()} ${months[date.getUTCMonth()]} ${date.getUTCFullYear()} ` +
    `${two(date.getUTCHours())}:${two(date.getUTCMinutes())}:${two(date.getUTCSeconds())} +0000`
  );
}
