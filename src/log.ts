/** One logger for the whole server; protocol code logs through it, never through `console`. */

export type LogLevel = 'debug' | 'info' | 'warning' | 'error';

const rank: Record<LogLevel, number> = { debug: 10, info: 20, warning: 30, error: 40 };

export interface Logger {
  readonly level: LogLevel;
  enabled(level: LogLevel): boolean;
  debug(message: string): void;
  info(message: string): void;
  warning(message: string): void;
  error(message: string): void;
}

/** Parses a LOG_LEVEL value (case-insensitive, WARN accepted for WARNING); undefined if unknown. */
export function parseLogLevel(value: string): LogLevel | undefined {
  const normalized = value.trim().toLowerCase();
  if (normalized === 'warn') return 'warning';
  return normalized in rank ? (normalized as LogLevel) : undefined;
}

export function createLogger(level: LogLevel, write: (line: string) => void = defaultWrite): Logger {
  const threshold = rank[level];
  const emit = (at: LogLevel) => (message: string) => {
    if (rank[at] >= threshold) write(`${timestamp()} ${at.toUpperCase()} ${escapeControls(message)}\n`);
  };
  return {
    level,
    enabled: (at) => rank[at] >= threshold,
    debug: emit('debug'),
    info: emit('info'),
    warning: emit('warning'),
    error: emit('error'),
  };
}

/**
 * Control characters (C0, DEL, C1) as escapes: messages quote what clients send, and a log line
 * must stay one line and never drive the terminal it is read on.
 */
function escapeControls(message: string): string {
  return message.replace(
    /[\u0000-\u001f\u007f-\u009f]/g,
    (c) => named[c] ?? `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`,
  );
}

const named: Record<string, string> = { '\r': '\\r', '\n': '\\n', '\t': '\\t' };

function defaultWrite(line: string): void {
  process.stderr.write(line);
}

function timestamp(): string {
  return new Date().toISOString().slice(11, 23);
}
