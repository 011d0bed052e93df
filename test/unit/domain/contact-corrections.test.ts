/** Contact corrections: a customer's own fix outranks the old value a till sends again, never a new one. */
import { fingerprint, noteCorrections, screenSaleContact } from '../../../src/domain/contact-corrections';

const KEY = 'test-secret-0123456789abcdef0123456789';

const before = {
  firstName: 'Lou',
  email: 'Lou.Old@example.com',
  address: { lines: ['1 Main St'], city: 'Perth', country: 'AU' },
};

it('notes the corrected fields with a fingerprint of the value they replaced, never the value itself', () => {
  const noted = noteCorrections(KEY, {}, before, ['email', 'address', 'timezone']);
  expect(Object.keys(noted).sort()).toEqual(['address', 'email']);
  expect(noted.email).toBe(fingerprint(KEY, 'email', 'lou.old@example.com'));
  // Keyed: another secret gives another digest, so a list of phone numbers cannot be hashed to find the old one.
  expect(noted.email).not.toBe(fingerprint('another-secret', 'email', 'lou.old@example.com'));
  expect(JSON.stringify(noted)).not.toMatch(/lou|Main/i);
});

it('keeps the first fingerprint when a field is corrected again: the till still knows the first value', () => {
  const first = noteCorrections(KEY, {}, before, ['email']);
  expect(noteCorrections(KEY, first, { email: 'lou@example.com' }, ['email'])).toEqual(first);
});

it('drops the values the till sends again (emails in any case, addresses in any key order) and keeps the rest', () => {
  const corrections = noteCorrections(KEY, {}, before, ['email', 'address']);
  const sale = {
    firstName: 'Lou',
    email: 'LOU.OLD@example.com',
    address: { country: 'AU', city: 'Perth', lines: ['1 Main St'] },
    phone: '+1 555',
  };
  const screened = screenSaleContact(KEY, sale, corrections);
  expect(screened.contact).toEqual({ firstName: 'Lou', phone: '+1 555' });
  expect(screened).toMatchObject({ corrections, changed: false });
});

it('lets a new value from the till win, and forgets the correction of that field only', () => {
  const corrections = noteCorrections(KEY, {}, before, ['email', 'firstName']);
  const screened = screenSaleContact(KEY, { email: 'lou@work.example', firstName: 'Lou' }, corrections);
  expect(screened.contact).toEqual({ email: 'lou@work.example' });
  expect(screened.corrections).toEqual({ firstName: corrections.firstName });
  expect(screened.changed).toBe(true);
});

it('leaves a field the sale does not mention alone', () => {
  const corrections = noteCorrections(KEY, {}, before, ['email']);
  expect(screenSaleContact(KEY, { phone: '+1 555' }, corrections)).toEqual({
    contact: { phone: '+1 555' },
    corrections,
    changed: false,
  });
});
