/** Configuration: defaults that work on a development machine, and one clear error naming a bad variable. */
import { ConfigError, loadConfig, redactUrl } from '../../src/config';

const PROD = { RAPPORT_SECRET: 'a-production-secret-0123456789abcdef', PUBLIC_URL: 'https://shop.example' };

describe('loadConfig', () => {
  it('works in development with no other configuration', () => {
    const config = loadConfig({ RAPPORT_ENV: 'development' });
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
      env: 'development',
      smtpRequireTls: false,
    });
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('runs as production unless told otherwise: the link secret must come from the environment', () => {
    expect(() => loadConfig({})).toThrow(/^RAPPORT_SECRET is required .*RAPPORT_ENV=development/);
    expect(loadConfig({ RAPPORT_SECRET: PROD.RAPPORT_SECRET })).toMatchObject({
      env: 'production',
      secret: PROD.RAPPORT_SECRET,
      smtpRequireTls: true,
      publicUrl: 'http://localhost:3000',
    });
  });

  it('refuses an http PUBLIC_URL outside localhost, except in development', () => {
    expect(() => loadConfig({ ...PROD, PUBLIC_URL: 'http://shop.example' })).toThrow(/^PUBLIC_URL must be https/);
    expect(loadConfig({ ...PROD, PUBLIC_URL: 'http://127.0.0.1:3000' }).publicUrl).toBe('http://127.0.0.1:3000');
    expect(loadConfig({ RAPPORT_ENV: 'development', PUBLIC_URL: 'http://shop.test' }).publicUrl).toBe(
      'http://shop.test',
    );
  });

  it('needs 32 characters for RAPPORT_ADMIN_KEY and an explicit switch for plain SMTP', () => {
    expect(() => loadConfig({ ...PROD, RAPPORT_ADMIN_KEY: 'sixteen-chars-ok-before' })).toThrow(
      /^RAPPORT_ADMIN_KEY must be at least 32/,
    );
    expect(loadConfig({ ...PROD, RAPPORT_ADMIN_KEY: 'k'.repeat(32) }).adminKey).toBe('k'.repeat(32));
    expect(loadConfig({ ...PROD, SMTP_ALLOW_PLAINTEXT: 'true' }).smtpRequireTls).toBe(false);
    expect(() => loadConfig({ ...PROD, SMTP_ALLOW_PLAINTEXT: 'yes' })).toThrow(/^SMTP_ALLOW_PLAINTEXT /);
  });

  it('reads trustProxy as a flag, a hop count or a list of proxies', () => {
    expect(loadConfig(PROD).trustProxy).toBe(false);
    expect(loadConfig({ ...PROD, TRUST_PROXY: 'true' }).trustProxy).toBe(true);
    expect(loadConfig({ ...PROD, TRUST_PROXY: '2' }).trustProxy).toBe(2);
    expect(loadConfig({ ...PROD, TRUST_PROXY: '10.0.0.0/8, 127.0.0.1' }).trustProxy).toEqual([
      '10.0.0.0/8',
      '127.0.0.1',
    ]);
    expect(() => loadConfig({ ...PROD, TRUST_PROXY: 'my proxy' })).toThrow(/^TRUST_PROXY /);
  });

  it('never shows the password of a URL it refuses', () => {
    let message = '';
    try {
      loadConfig({ ...PROD, DATABASE_URL: 'postgres://app:hunter2@db:notaport/x' });
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toMatch(/^DATABASE_URL is not a valid URL/);
    expect(message).not.toContain('hunter2');
    expect(redactUrl('smtp://me:p%40ss@mail.example:587')).toBe('smtp://me:***@mail.example:587');
    expect(redactUrl('redis://mail.example:6379')).toBe('redis://mail.example:6379');
  });

  it.each([
    [{ PORT: 'eighty' }, 'PORT'],
    [{ PORT: '70000' }, 'PORT'],
    [{ DATABASE_URL: 'mysql://localhost/x' }, 'DATABASE_URL'],
    [{ DATABASE_URL: 'not a url' }, 'DATABASE_URL'],
    [{ REDIS_URL: 'http://localhost' }, 'REDIS_URL'],
    [{ SMTP_URL: 'mailto:me' }, 'SMTP_URL'],
    [{ PUBLIC_URL: 'ftp://x' }, 'PUBLIC_URL'],
    [{ RAPPORT_ENV: 'staging' }, 'RAPPORT_ENV'],
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
    expect(() => loadConfig({ ...PROD, ...env })).toThrow(ConfigError);
    expect(() => loadConfig({ ...PROD, ...env })).toThrow(new RegExp(`^${name} `));
  });

  it('leaves batches of sales fewer connections than the pool has', () => {
    expect(loadConfig(PROD)).toMatchObject({ databasePoolSize: 10, saleBatchSize: 100, saleBatchesInFlight: 2 });
    expect(loadConfig({ ...PROD, DATABASE_POOL_SIZE: '2' }).saleBatchesInFlight).toBe(1);
    expect(loadConfig({ ...PROD, DATABASE_POOL_SIZE: '1' }).saleBatchesInFlight).toBe(1);
    expect(
      loadConfig({ ...PROD, DATABASE_POOL_SIZE: '20', SALE_BATCHES_IN_FLIGHT: '19', SALE_BATCH_SIZE: '0' }),
    ).toMatchObject({
      saleBatchesInFlight: 19,
      saleBatchSize: 0,
    });
  });

  it('derives the public URL from the port, and reads the business identity defaults', () => {
    const config = loadConfig({
      RAPPORT_ENV: 'development',
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
