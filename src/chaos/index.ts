/** Fault injection: rules that make the SMTP server refuse, stall or hang up on purpose. */
export { Chaos, type ChaosEntry, type ChaosOptions } from './chaos.js';
export {
  chaosGrammar,
  chaosPhases,
  chaosRuleToJson,
  ChaosRuleError,
  formatChaosRule,
  parseChaosRule,
  validateChaosRule,
  type AddressPattern,
  type ChaosPhase,
  type ChaosReply,
  type ChaosRule,
  type ChaosRuleJson,
} from './rule.js';
