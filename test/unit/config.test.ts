/** Configuration: defaults that work on a development machine, and one clear error naming a bad variable. */
import { ConfigError, loadConfig } from '../../src/config';

describe('loadConfig', () => {
  it('works with no configuration at all', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      databaseUrl: 'postgres://postgres@127.0.0.1:5432/rapport',
      redisUrl: 'redis://127.0.0.1:6379',
      smtpUrl: null,
      port: 3000,
      publicUrl: 'http://localhost:3000',
      adminKey: null,
      secret: null,
      defaultTimezone: 'UTC',
      paper: 'A4',
    });
    expect(Object.isFrozen(config)).toBe(true);
  });

  it.each([
    [{ PORT: 'eighty' }, 'PORT'],
    [{ PORT: '70000' }, 'PORT'],
    [{ DATABASE_URL: 'mysql://localhost/x' }, 'DATABASE_URL'],
    [{ DATABASE_URL: 'not a url' }, 'DATABASE_URL'],
    [{ REDIS_URL: 'http://localhost' }, 'REDIS_URL'],
    [{ SMTP_URL: 'mailto:me' }, 'SMTP_URL'],
    [{ PUBLIC_URL: 'ftp://x' }, 'PUBLIC_URL'],
    [{ RAPPORT_ADMIN_KEY: 'short' }, 'RAPPORT_ADMIN_KEY'],
    [{ RAPPORT_SECRET: 'too-short' }, 'RAPPORT_SECRET'],
    [{ DEFAULT_TIMEZONE: 'Mars/Base' }, 'DEFAULT_TIMEZONE'],
    [{ RAPPORT_PAPER: 'A5' }, 'RAPPORT_PAPER'],
    [{ WORKER_CONCURRENCY: '0' }, 'WORKER_CONCURRENCY'],
    [{ SMTP_MAX_CONNECTIONS: '0' }, 'SMTP_MAX_CONNECTIONS'],
  ])('refuses %p naming %s', (env, name) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(new RegExp(`^${name} `));
  });

  it('derives the public URL and From address from the port and business name', () => {
    const config = loadConfig({ PORT: '8080', RAPPORT_BUSINESS_NAME: 'Lee Furniture' });
    expect(config.publicUrl).toBe('http://localhost:8080');
    expect(config.mailFrom).toBe('Lee Furniture <hello@localhost>');
  });
});
