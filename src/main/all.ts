/** `npm start`: migrate, then the API and the workers in one process (the simple start). */
import { checkRedis, connectPostgres, createLogger, loadConfigOrExit, runMain } from './startup';
import { announceAdminKey, announceFirstManagerLink, announceIdentity, buildContext, onShutdown } from './services';
import { startApi } from './api-process';
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
  await announceAdminKey(config, db);
  const ctx = buildContext(config, db, log, await ensureSecret(db, config.secret));
  await announceIdentity(ctx);
  await announceFirstManagerLink(config, ctx);
  await reportMisconfiguredSegments(ctx);
  const workers = await startWorkerProcess(config, ctx, log);
  const closeApi = await startApi(config, ctx, log);
  onShutdown(log, async () => {
    await closeApi(); // stop taking requests first
    await workers.close();
    await db.destroy();
  });
});
