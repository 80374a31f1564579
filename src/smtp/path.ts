/**
 * The reverse- and forward-path syntax of MAIL FROM and RCPT TO (RFC 5321 §4.1.2): SMTP
 * grammar, kept here so the store only ever sees plain addresses.
 */

/**
 * Parses `<path>` from MAIL FROM / RCPT TO arguments: strips an RFC 5321 source route
 * (`@a,@b:user@host`) and unquotes a quoted local part. Returns the address and the text after `>`.
 */
export function parsePath(argument: string): { address: string; rest: string } | undefined {
  const trimmed = argument.trimStart();
  if (!trimmed.startsWith('<')) {
    // Lenient: some clients omit the brackets; the address then ends at the first space.
    const space = trimmed.indexOf(' ');
    const bare = space < 0 ? trimmed : trimmed.slice(0, space);
    if (bare === '') return undefined;
    return { address: bare, rest: space < 0 ? '' : trimmed.slice(space + 1) };
  }
  const close = closingBracket(trimmed);
  if (close < 0) return undefined;
  let address = trimmed.slice(1, close);
  if (address.startsWith('@')) {
    const colon = address.indexOf(':');
    if (colon < 0) return undefined;
    address = address.slice(colon + 1);
  }
  return { address: unquoteLocalPart(address), rest: trimmed.slice(close + 1) };
}

/** Index of the `>` that closes the path, skipping any inside a quoted local part. */
function closingBracket(text: string): number {
  let quoted = false;
  for (let i = 1; i < text.length; i++) {
    const c = text[i];
    if (quoted && c === '\\') i++;
    else if (c === '"') quoted = !quoted;
    else if (c === '>' && !quoted) return i;
  }
  return -1;
}

function unquoteLocalPart(address: string): string {
  if (!address.startsWith('"')) return address;
  const at = address.lastIndexOf('@');
  const quoted = at < 0 ? address : address.slice(0, at);
  if (quoted.length < 2 || !quoted.endsWith('"')) return address;
  const local = quoted.slice(1, -1).replace(/\\(.)/g, '$1');
  return at < 0 ? local : `${local}${address.slice(at)}`;
}
