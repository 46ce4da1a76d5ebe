// Fault injection for the simulator. Rules are taken in order, one per request: a rule with a
// `count` applies to that many requests and is then used up; a rule without one applies to every
// request from then on. Tests change the plan while the server runs (`plan.rules.push(...)`).

export type FaultRule =
  /** Answer with this status (429, 500, 503...) and an optional Retry-After in seconds. */
  | { kind: 'status'; status: number; retryAfterSeconds?: number; count?: number }
  /** Answer 200 with an HTML login page instead of CSV. */
  | { kind: 'html'; count?: number }
  /** Send `afterRows` rows, then half of the next one, then reset the connection. */
  | { kind: 'truncate'; afterRows: number; count?: number }
  /** Send `afterRows` rows, then stop sending for `stallMs` before going on. */
  | { kind: 'stall'; afterRows: number; stallMs: number; count?: number };

export interface FaultPlan {
  /** Delay before every response's headers. */
  latencyMs: number;
  rules: FaultRule[];
}

/** The rule that applies to the next request, consuming one use of it; undefined for none. */
export function takeFault(plan: FaultPlan): FaultRule | undefined {
  while (plan.rules.length > 0) {
    const rule = plan.rules[0] as FaultRule;
    if (rule.count === undefined) return rule;
    if (rule.count > 0) {
      rule.count -= 1;
      if (rule.count === 0) plan.rules.shift();
      return rule;
    }
    plan.rules.shift();
  }
  return undefined;
}
