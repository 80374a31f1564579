/** The `--chaos` option's parsing and help, kept here so the CLI only wires them in. */
import { ChaosRuleError, chaosGrammar, parseChaosRule, type ChaosRule } from './rule.js';

/** One line for the option table. */
export const chaosOptionHelp = 'inject a fault (repeatable; see "Fault injection" below)';

/** The help section describing the rule text. */
export const chaosHelp = `Fault injection (--chaos RULE, repeatable; TMS_CHAOS holds one rule per line):
  ${chaosGrammar}
    PHASE            connect (before the greeting), helo, mail, rcpt, or data (after the final ".")
    from=, to=       only if the sender / a recipient matches: a glob (* any run, ? one character,
                     any case) or /regexp/flags; from= at mail, rcpt, data; to= at rcpt, data
    delay=MS         wait this long before answering (3s also works)
    disconnect       drop the connection without a reply
    times=N          fire N times, then stop (default: every time)
    probability=P    fire with chance P from 0 to 1 (default 1)
    reply=CODE TEXT  answer this instead; the command is not carried out, whatever the code;
                     takes the rest of the line, so it comes last
  Rules are tried in order; the first that matches acts. Examples:
    --chaos 'rcpt to=bounce@* reply=550 5.1.1 no such user'
    --chaos 'data times=1 reply=451 4.3.0 try again'
    --chaos 'connect delay=3000'`;

/**
 * The rules from repeated `--chaos` values, else from TMS_CHAOS (one per line; blank lines and
 * lines starting with # skipped). Throws ChaosRuleError naming the rule that is wrong.
 */
export function chaosRulesFromOptions(values: unknown, envValue: string | undefined): ChaosRule[] {
  const fromArgs = Array.isArray(values)
    ? values.filter((value): value is string => typeof value === 'string')
    : typeof values === 'string'
      ? [values]
      : [];
  const texts =
    fromArgs.length > 0
      ? fromArgs
      : (envValue ?? '')
          .split(/\r?\n/)
          .map((line) => line.trim())
          .filter((line) => line !== '' && !line.startsWith('#'));
  const source = fromArgs.length > 0 ? '--chaos' : 'TMS_CHAOS';
  return texts.map((text) => {
    try {
      return parseChaosRule(text);
    } catch (error) {
      if (error instanceof ChaosRuleError) throw new ChaosRuleError(`${source} '${text}': ${error.message}`);
      throw error;
    }
  });
}
