/** The library's errors in the CLI's own terms: the library names a listener, the CLI the option that moves it. */
import { PortInUseError } from '../listen.js';

/** The one line the CLI prints when the server cannot start or stop. */
export function describeFailure(error: unknown): string {
  if (error instanceof PortInUseError)
    return `${error.host}:${error.port} is already in use (choose another port with --${error.listener}-port)`;
  return error instanceof Error ? error.message : String(error);
}
