/**
 * The arguments of MAIL FROM and RCPT TO: reverse- and forward-path syntax (RFC 5321 §4.1.2)
 * and the parameters after it. SMTP grammar, kept here so the store only ever sees plain
 * addresses. Each parser returns the address, or the reply that refuses the argument.
 */
import { badSyntax, reply, type BadSyntax, type Reply } from './replies.js';

/** C0 controls and DEL, as the store refuses them in recipients. */
export const controlCharacter = /[\u0000-\u001f\u007f]/;

/** MAIL's argument: the sender ('' for the null sender `<>`). */
export function parseMail(argument: string, maxMessageSize: number): string | Reply | BadSyntax {
  const match = /^FROM:\s*(.*)$/is.exec(argument);
  if (!match) return badSyntax;
  const path = parsePath(match[1]);
  if (!path) return reply.badAddress('MAIL FROM:<address>');
  // It goes into the stored Return-Path: a CR there would start a header of the client's choosing.
  if (controlCharacter.test(path.address)) return reply.refusedSender('contains a control character');
  for (const [name, value] of parameters(path.rest)) {
    const refusal = mailParameterProblem(name, value, maxMessageSize);
    if (refusal) return refusal;
  }
  return path.address;
}

function mailParameterProblem(name: string, value: string | undefined, maxMessageSize: number): Reply | undefined {
  switch (name) {
    case 'SIZE':
      if (!/^\d+$/.test(value ?? '')) return reply.syntax('SIZE=<number>');
      return Number(value) > maxMessageSize ? reply.tooBig(maxMessageSize) : undefined;
    case 'BODY':
      return ['7BIT', '8BITMIME'].includes((value ?? '').toUpperCase())
        ? undefined
        : reply.unknownParameter(value === undefined ? name : `${name}=${value}`);
    case 'SMTPUTF8':
    case 'AUTH': // AUTH= must be accepted wherever AUTH is advertised (RFC 4954 §5).
      return undefined;
    default:
      return reply.unknownParameter(name);
  }
}

/** RCPT's argument: the recipient as given (the store decides whether it is a mailbox). */
export function parseRcpt(argument: string): string | Reply | BadSyntax {
  const match = /^TO:\s*(.*)$/is.exec(argument);
  if (!match) return badSyntax;
  const path = parsePath(match[1]);
  if (!path) return reply.badAddress('RCPT TO:<address>');
  const [unsupported] = parameters(path.rest);
  return unsupported ? reply.unknownParameter(unsupported[0]) : path.address;
}

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

/**
 * `KEY=VALUE` pairs after the address; keys uppercased. A loop, not filter/map: a caller using
 * what `map` returned is deoptimized once in Node 20's V8 (see bench/README.md, "The CPU").
 */
function parameters(text: string): Array<[string, string | undefined]> {
  const pairs: Array<[string, string | undefined]> = [];
  // Most paths have none: no split for them.
  if (text === '') return pairs;
  for (const word of text.split(' ')) {
    if (word === '') continue;
    const eq = word.indexOf('=');
    pairs.push(eq < 0 ? [word.toUpperCase(), undefined] : [word.slice(0, eq).toUpperCase(), word.slice(eq + 1)]);
  }
  return pairs;
}
