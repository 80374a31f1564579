/** The library's errors in the CLI's own terms: the library names a listener, the CLI the option that moves it. */
import { PortInUseError } from '../listen.js';
import type { OptionName } from './options.js';

/** The one line the CLI prints when the server cannot start or stop. */
export function describeFailure(error: unknown): string {
  if (error instanceof PortInUseError) {
    // Typed, so a listener without its --<listener>-port option fails the type check.
    const option: OptionName = `${error.listener}-port`;
    return `${error.host}:${error.port} is already in use (choose another port with --${option})`;
  }
  return error instanceof Error ? error.message : String(error);
}
