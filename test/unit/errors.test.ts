import { describe, expect, it } from 'vitest';
import { CdrError, ErrorCodes, isCdrError } from '../../src/errors.ts';

describe('errors', () => {
  it('has unique, prefixed codes', () => {
    const codes = Object.values(ErrorCodes);
    expect(new Set(codes).size).toBe(codes.length);
    for (const code of codes) expect(code).toMatch(/^CDR_[A-Z_]+$/);
  });

  it.each(Object.values(ErrorCodes))('%s survives JSON.stringify with its cause', (code) => {
    const err = new CdrError(code, 'message', {
      cause: new Error('root'),
      retriable: true,
      details: { line: 3 },
    });
    const json = JSON.parse(JSON.stringify(err)) as Record<string, unknown>;
    expect(json).toEqual({
      name: 'CdrError',
      code,
      message: 'message',
      retriable: true,
      details: { line: 3 },
      cause: { name: 'Error', message: 'root' },
    });
    expect(isCdrError(err, code)).toBe(true);
    expect(isCdrError(new Error('x'))).toBe(false);
  });
});
