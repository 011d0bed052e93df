/** `npm run migrate`: create the database if needed and apply every pending migration. */
import { connectPostgres, createLogger, loadConfigOrExit, runMain } from './startup';

runMain(async () => {
  const config = loadConfigOrExit();
  const log = createLogger(config.logLevel);
  const db = await connectPostgres(config, log, true);
  await db.destroy();
  log.info('database is up to date');
});
