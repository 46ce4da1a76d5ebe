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
  | { kind: 'stall'; afterRows: number; stallMs: number; count?: number }
  /**
   * Send `afterRows` rows, then the start of the next one, and end the body cleanly (a proper
   * chunked end or a complete Content-Length), as a feed script killed by its own time limit
   * does: `field` stops right after a whole field, `quoted` inside a quoted field.
   */
  | { kind: 'cut'; afterRows: number; inside: 'field' | 'quoted'; count?: number };

/** A row the feed always sends broken, whatever the request: a poison row. */
export interface PoisonRow {
  /** Row number in the account's sequence (0 is the account's first id). */
  index: number;
  /** `oversize`: a description of `bytes` characters; `unclosed-quote`: a description that opens a quote and never closes it. */
  kind: 'oversize' | 'unclosed-quote';
  bytes?: number;
}

export interface FaultPlan {
  /** Delay before every response's headers. */
  latencyMs: number;
  rules: FaultRule[];
}

/** The rule that applies to the next request, consuming one use of it; undefined for none. */
export function takeFault<R extends { count?: number }>(plan: { rules: R[] }): R | undefined {
  while (plan.rules.length > 0) {
    const rule = plan.rules[0] as R;
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
