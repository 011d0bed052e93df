/** The logger's own guards: URLs lose query values and link tokens; email addresses in any logged text are replaced. */
import { Writable } from 'node:stream';
import { createLogger, redactUrl } from '../../src/logger';

function capture() {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk, _e, done) {
      lines.push(String(chunk));
      done();
    },
  });
  return { log: createLogger('info', 'test', sink), text: () => lines.join('') };
}

it('replaces email addresses in reasons and error messages, however they are quoted', () => {
  const { log, text } = capture();
  log.warn(
    {
      reason: '550 5.1.1 <ann.lee@example.com>: no such user',
      err: new Error('Key (email)=(bob@shop.example.org) exists'),
    },
    'refused',
  );
  expect(text()).toContain('550 5.1.1 <[email]>: no such user');
  expect(text()).toContain('Key (email)=([email]) exists');
  expect(text()).not.toMatch(/ann\.lee|bob@/);
});

it('redacts personal fields wherever they are', () => {
  const { log, text } = capture();
  log.info({ customer: { firstName: 'Ann' }, phone: '+61 2 5550 1234', token: 'v1.x.y' }, 'x');
  expect(text()).not.toMatch(/Ann|5550|v1\.x\.y/);
});

it.each([
  ['/v1/customers?email=ann%40example.com&x=1', '/v1/customers?email=[redacted]&x=[redacted]'],
  ['/p/v1.abc.def/export', '/p/[redacted]/export'],
  ['/u/v1.abc.def', '/u/[redacted]'],
  ['/v1/sales', '/v1/sales'],
])('redactUrl(%s) is %s', (url, expected) => {
  expect(redactUrl(url)).toBe(expected);
});
