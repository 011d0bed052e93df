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
      paper: null,
      identity: { name: null, address: null, phone: null, website: null, emailFrom: null },
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
    [{ RAPPORT_BUSINESS_ADDRESS: '1 Main St', RAPPORT_BUSINESS_COUNTRY: 'Australia' }, 'RAPPORT_BUSINESS_COUNTRY'],
    [{ RAPPORT_SECRET_PREVIOUS: 'short' }, 'RAPPORT_SECRET_PREVIOUS'],
    [{ WORKER_CONCURRENCY: '0' }, 'WORKER_CONCURRENCY'],
    [{ SMTP_MAX_CONNECTIONS: '0' }, 'SMTP_MAX_CONNECTIONS'],
    [{ SALE_BATCH_SIZE: '-1' }, 'SALE_BATCH_SIZE'],
    [{ SALE_BATCH_SIZE: '1001' }, 'SALE_BATCH_SIZE'],
    [{ SALE_BATCHES_IN_FLIGHT: '0' }, 'SALE_BATCHES_IN_FLIGHT'],
    [{ SALE_BATCHES_IN_FLIGHT: '10' }, 'SALE_BATCHES_IN_FLIGHT'],
    [{ SALE_BATCHES_IN_FLIGHT: '4', DATABASE_POOL_SIZE: '4' }, 'SALE_BATCHES_IN_FLIGHT'],
  ])('refuses %p naming %s', (env, name) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(new RegExp(`^${name} `));
  });

  it('leaves batches of sales fewer connections than the pool has', () => {
    expect(loadConfig({})).toMatchObject({ databasePoolSize: 10, saleBatchSize: 100, saleBatchesInFlight: 2 });
    expect(loadConfig({ DATABASE_POOL_SIZE: '2' }).saleBatchesInFlight).toBe(1);
    expect(loadConfig({ DATABASE_POOL_SIZE: '1' }).saleBatchesInFlight).toBe(1);
    expect(loadConfig({ DATABASE_POOL_SIZE: '20', SALE_BATCHES_IN_FLIGHT: '19', SALE_BATCH_SIZE: '0' })).toMatchObject({
      saleBatchesInFlight: 19,
      saleBatchSize: 0,
    });
  });

  it('derives the public URL from the port, and reads the business identity defaults', () => {
    const config = loadConfig({
      PORT: '8080',
      RAPPORT_BUSINESS_NAME: 'Lee Furniture',
      RAPPORT_BUSINESS_ADDRESS: '12 Shop St; Sydney NSW 2000',
      RAPPORT_BUSINESS_COUNTRY: 'au',
      RAPPORT_BUSINESS_PHONE: '+61 2 5550 1000',
      RAPPORT_PAPER: 'Letter',
    });
    expect(config.publicUrl).toBe('http://localhost:8080');
    expect(config.identity).toEqual({
      name: 'Lee Furniture',
      address: { lines: ['12 Shop St', 'Sydney NSW 2000'], country: 'AU' },
      phone: '+61 2 5550 1000',
      website: null,
      emailFrom: null,
    });
    expect(config.paper).toBe('Letter');
  });
});
