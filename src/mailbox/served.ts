/**
 * Messages as IMAP and POP3 must send them: with CRLF line ends. Files other tools wrote with
 * bare LF (Python's `mailbox.MH.add`, nmh `inc`) are converted; files with CRLF throughout (all
 * that SMTP clients send) are served byte for byte.
 */

const LF = 0x0a;
const CR = 0x0d;

/** How many line feeds in `bytes` have no carriage return before them. */
export function bareLineFeeds(bytes: Uint8Array): number {
  let count = 0;
  for (let at = bytes.indexOf(LF); at >= 0; at = bytes.indexOf(LF, at + 1))
    if (at === 0 || bytes[at - 1] !== CR) count++;
  return count;
}

/** The bytes with every bare LF made CRLF; the same buffer when there is none. */
export function withCrlf(bytes: Buffer): Buffer {
  const extra = bareLineFeeds(bytes);
  if (extra === 0) return bytes;
  const served = Buffer.allocUnsafe(bytes.length + extra);
  let written = 0;
  let from = 0;
  for (let at = bytes.indexOf(LF); at >= 0; at = bytes.indexOf(LF, at + 1)) {
    if (at > 0 && bytes[at - 1] === CR) continue;
    written += bytes.copy(served, written, from, at);
    served[written++] = CR;
    from = at;
  }
  bytes.copy(served, written, from);
  return served;
}
