// A cache keyed by text parsed from a response must hold nothing bigger alive: a key parsed from a
// response is a slice of the response's text (V8 keeps the whole text for it). With a thousand
// accounts, each keeping its last response, that was most of the process's memory.

/** A copy of `s` that keeps no larger string alive. */
export function detached(s: string): string {
  return Buffer.from(s, 'utf8').toString('utf8');
}
