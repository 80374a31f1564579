/**
 * The live rule set of one server, and the gate the SMTP sessions consult at each phase.
 * Rules are tried in the order they were added; the first that matches (and passes its
 * probability, and has times left) decides what happens, and only it is counted.
 */
import type { Logger } from '../log.js';
import type { Gate, GateAction } from '../smtp/gate.js';
import { compilePattern, formatChaosRule, parseChaosRule, validateChaosRule, type ChaosRule } from './rule.js';

/** One rule as `list()` shows it. Everything but `rule` is plain JSON. */
export interface ChaosEntry {
  readonly id: number;
  readonly rule: ChaosRule;
  /** The rule in its text form (`--chaos` syntax). */
  readonly text: string;
  /** How often it has fired so far. */
  readonly fired: number;
  /** Times left for a rule with `times` (0 once spent); undefined for a rule without a limit. */
  readonly remaining: number | undefined;
}

export interface ChaosOptions {
  readonly log?: Logger | undefined;
  /** Source of randomness for `probability`; default Math.random. */
  readonly random?: () => number;
}

interface ActiveRule {
  readonly id: number;
  readonly rule: ChaosRule;
  readonly text: string;
  readonly from: ((address: string) => boolean) | undefined;
  readonly to: ((address: string) => boolean) | undefined;
  fired: number;
}

export class Chaos {
  private rules: ActiveRule[] = [];
  private nextId = 1;
  private readonly log: Logger | undefined;
  private readonly random: () => number;

  constructor(options: ChaosOptions = {}) {
    this.log = options.log;
    this.random = options.random ?? Math.random;
  }

  /**
   * Adds a rule (an object, or its text form such as `rcpt to=bounce@* reply=550 5.1.1 no such user`)
   * and returns its id. Throws ChaosRuleError if it is not valid.
   */
  add(rule: ChaosRule | string): number {
    const checked = typeof rule === 'string' ? parseChaosRule(rule) : validateChaosRule(rule);
    const id = this.nextId++;
    const text = formatChaosRule(checked);
    this.rules.push({
      id,
      rule: checked,
      text,
      from: checked.from === undefined ? undefined : compilePattern(checked.from),
      to: checked.to === undefined ? undefined : compilePattern(checked.to),
      fired: 0,
    });
    this.log?.info(`Chaos rule ${id}: ${text}`);
    return id;
  }

  /** Removes a rule; false if there was none with that id. */
  remove(id: number): boolean {
    const before = this.rules.length;
    this.rules = this.rules.filter((rule) => rule.id !== id);
    const removed = this.rules.length < before;
    if (removed) this.log?.info(`Chaos rule ${id} removed`);
    return removed;
  }

  /** Every rule in the order they are tried, spent ones included. */
  list(): ChaosEntry[] {
    return this.rules.map(({ id, rule, text, fired }) => ({
      id,
      rule,
      text,
      fired,
      remaining: rule.times === undefined ? undefined : rule.times - fired,
    }));
  }

  /** Removes every rule (ids are not reused). */
  clear(): void {
    if (this.rules.length > 0) this.log?.info('Chaos rules cleared');
    this.rules = [];
  }

  /** For SmtpServer's `gate` option. */
  readonly gate: Gate = (phase, context) => {
    for (const active of this.rules) {
      const { rule } = active;
      if (rule.on !== phase) continue;
      if (rule.times !== undefined && active.fired >= rule.times) continue;
      if (active.from && (context.from === undefined || !active.from(context.from))) continue;
      if (active.to && !(context.to ?? []).some((address) => active.to!(address))) continue;
      if (rule.probability !== undefined && !(this.random() < rule.probability)) continue;
      active.fired++;
      if (this.log?.enabled('info'))
        this.log.info(`Chaos rule ${active.id} fired at ${phase}${describeContext(context)}: ${active.text}`);
      return action(rule);
    }
    return undefined;
  };
}

function action(rule: ChaosRule): GateAction {
  return {
    ...(rule.delayMs ? { delayMs: rule.delayMs } : {}),
    ...(rule.disconnect ? { disconnect: true } : {}),
    ...(rule.reply ? { reply: { code: rule.reply.code, text: rule.reply.text } } : {}),
  };
}

function describeContext(context: Parameters<Gate>[1]): string {
  const parts: string[] = [];
  if (context.from !== undefined) parts.push(`from <${context.from}>`);
  if (context.to && context.to.length > 0) parts.push(`to ${context.to.map((a) => `<${a}>`).join(', ')}`);
  return parts.length > 0 ? ` (${parts.join(' ')})` : '';
}
