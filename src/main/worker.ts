/** `npm run start:worker`: the scheduler and channel workers alone (run any number; they never deliver twice). */
import { checkRedis, connectPostgres, createLogger, loadConfigOrExit, runMain } from './startup';
import { announceIdentity, buildContext, onShutdown } from './services';
import { startWorkerProcess } from './worker-process';
import { ensureSecret } from '../services/auth.service';
import { reportMisconfiguredSegments } from '../services/segment.service';
import { installZoneOffsetCache } from './zone-offset-cache';

runMain(async () => {
  installZoneOffsetCache();
  const config = loadConfigOrExit();
  const log = createLogger(config.logLevel);
  const db = await connectPostgres(config, log, true, config.databasePoolSize);
  await checkRedis(config);
  const ctx = buildContext(config, db, log, await ensureSecret(db, config.secret));
  await announceIdentity(ctx);
  await reportMisconfiguredSegments(ctx);
  const workers = await startWorkerProcess(config, ctx, log);
  onShutdown(log, async () => {
    await workers.close();
    await db.destroy();
  });
});
