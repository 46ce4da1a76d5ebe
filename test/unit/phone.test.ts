// Phone numbers as billing reads them: the forms carriers send (E.164, country code without `+`,
// national, the international prefix), normalised to E.164 in the account's home country, with
// the called number's country and type; what does not parse is flagged; and the search filters
// matching on either form.
import { describe, expect, it } from 'vitest';
import { countryCode, numberMatches, PhoneNumbers, parseNumber } from '../../src/cdr/phone.ts';
import { matches } from '../../src/tools/read/filter.ts';
import { rawCdr } from '../helpers/raw-cdr.ts';

describe('phone numbers', () => {
  const phones = new PhoneNumbers();
  const parse = (text: string, home: 'AU' | 'NZ' | undefined) => phones.parse(text, home);

  it.each([
    // The contract's examples (an AU account).
    ['61290001234', 'AU', '+61290001234', 'AU', 'fixed_line'],
    ['61412345678', 'AU', '+61412345678', 'AU', 'mobile'],
    ['442071234567', 'AU', '+442071234567', 'GB', 'fixed_line'],
    ['1800123456', 'AU', '+611800123456', 'AU', 'toll_free'],
    ['1900123456', 'AU', '+611900123456', 'AU', 'premium_rate'],
    ['0011 1 212 555 0100', 'AU', '+12125550100', 'US', 'fixed_line_or_mobile'],
    ['+61 2 9000 1234', 'AU', '+61290001234', 'AU', 'fixed_line'],
    // The NZ forms, one destination each way it is sent.
    ['+64211234567', 'NZ', '+64211234567', 'NZ', 'mobile'],
    ['0211234567', 'NZ', '+64211234567', 'NZ', 'mobile'],
    ['6494001234', 'NZ', '+6494001234', 'NZ', 'fixed_line'],
    ['094001234', 'NZ', '+6494001234', 'NZ', 'fixed_line'],
    ['0800123456', 'NZ', '+64800123456', 'NZ', 'toll_free'],
    ['00 1 212 555 0100', 'NZ', '+12125550100', 'US', 'fixed_line_or_mobile'],
  ] as const)('%s in %s is %s (%s, %s)', (text, home, e164, country, type) => {
    expect(parse(text, home)).toEqual({ e164, country, type });
  });

  it('answers from its caches exactly what parsing each number answers (100,000 numbers of six plans, many forms)', () => {
    let seed = 7;
    const random = (below: number) => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed % below;
    };
    const digits = (n: number) => Array.from({ length: n }, () => String(random(10))).join('');
    // Few distinct blocks (the digits before the last three drawn from a small set), so most
    // numbers are answered from a block another number of it was parsed for.
    const few = (n: number) => String(random(4)).repeat(n);
    const forms: Array<[string, () => string]> = [
      ['AU', () => `614${few(5)}${digits(3)}`],
      ['AU', () => `+61 4${few(2)} ${few(3)} ${digits(3)}`],
      ['AU', () => `0${String(2 + random(7))}${few(5)}${digits(3)}`],
      ['AU', () => `6${String(1 + random(9))}${few(6)}${digits(3)}`],
      ['AU', () => `1${String(random(10))}00${few(3)}${digits(3)}`],
      ['NZ', () => `642${few(4 + random(3))}${digits(3)}`],
      ['NZ', () => `0${String(2 + random(8))}${few(4 + random(2))}${digits(3)}`],
      ['NZ', () => `+64 ${String(3 + random(7))} ${few(4)}${digits(3)}`],
      ['NZ', () => `0011 44 ${String(1 + random(9))}${few(6)}${digits(3)}`],
      ['NZ', () => `00 1 ${digits(3)} ${few(3)} ${few(1)}${digits(3)}`],
      ['NZ', () => `+49${few(7 + random(2))}${digits(3)}`],
      ['NZ', () => `+91${String(6 + random(4))}${few(6)}${digits(3)}`],
      // Numbers that are only possible, or not numbers at all, in blocks too.
      ['AU', () => `${String(random(10))}${few(5 + random(6))}${digits(3)}`],
      ['NZ', () => `+${String(1 + random(9))}${few(7 + random(5))}${digits(3)}`],
      ['NZ', () => `0${String(random(10))}00 ${few(3)} ${digits(3)}`],
    ];
    const cached = new PhoneNumbers();
    let parsedAtAll = 0;
    for (let i = 0; i < 100_000; i++) {
      const [home, make] = forms[random(forms.length)] as ['AU' | 'NZ', () => string];
      const text = make();
      const exact = parseNumber(text, home);
      if (exact) parsedAtAll++;
      expect(cached.parse(text, home), `${text} in ${home}`).toEqual(exact);
    }
    expect(parsedAtAll).toBeGreaterThan(50_000);
  });

  it('carries what is not a phone number as nothing, and flags it', () => {
    for (const text of ['', 'anonymous', 'Private', '12', '+'])
      expect(parse(text, 'NZ'), JSON.stringify(text)).toBeNull();
    expect(phones.fields({ from: 'anonymous', to: '0211234567', layout: 'legacy17' })).toEqual({
      from_e164: null,
      to_e164: '+64211234567',
      to_country: 'NZ',
      to_number_type: 'mobile',
      numbers_unparsed: ['from'],
    });
  });

  it('takes the home country from FEED_COUNTRY, else from the layout (contract AU, legacy17 NZ)', () => {
    expect(new PhoneNumbers().homeCountry('legacy17')).toBe('NZ');
    expect(new PhoneNumbers().homeCountry('contract')).toBe('AU');
    expect(new PhoneNumbers().homeCountry('custom')).toBeUndefined();
    expect(new PhoneNumbers('GB').homeCountry('legacy17')).toBe('GB');
    // The same national text is another number in another home.
    expect(new PhoneNumbers().fields({ from: '', to: '0211234567', layout: 'contract' }).to_e164).not.toBe(
      '+64211234567',
    );
    expect(countryCode('nz')).toBe('NZ');
    expect(countryCode('XX')).toBeUndefined();
  });

  it('search filters match the text sent or its E.164 form', () => {
    const p = new PhoneNumbers();
    const m = (text: string, layout: string, value: string, prefix: boolean) =>
      numberMatches(text, layout, { value, prefix }, p);
    expect(m('+61412345678', 'contract', '61', true)).toBe(true);
    expect(m('0412345678', 'contract', '61', true)).toBe(true);
    expect(m('0412345678', 'contract', '+614', true)).toBe(true);
    expect(m('0412345678', 'contract', '04', true)).toBe(true);
    expect(m('+442071234567', 'contract', '61', true)).toBe(false);
    expect(m('0211234567', 'legacy17', '+64211234567', false)).toBe(true);
    expect(m('+64211234567', 'legacy17', '021 123 4567', false)).toBe(true);
    expect(m('+64211234567', 'legacy17', '0211234568', false)).toBe(false);
    expect(m('anonymous', 'legacy17', '64', true)).toBe(false);
    // Without the parser (no --from/--to given), the text alone.
    expect(numberMatches('+61412345678', 'contract', { value: '61', prefix: true })).toBe(false);
    const cdr = rawCdr({ to: '+61412345678', layout: 'contract' });
    expect(matches(cdr, { to: { value: '61', prefix: true }, phones: p })).toBe(true);
    expect(matches(cdr, { to: { value: '44', prefix: true }, phones: p })).toBe(false);
  });
});
