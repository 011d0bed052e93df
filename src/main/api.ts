/** `npm run start:api`: the HTTP API alone (run any number behind a load balancer). */
import { checkRedis, connectPostgres, createLogger, loadConfigOrExit, runMain } from './startup';
import { announceAdminKey, announceFirstManagerLink, buildContext, onShutdown } from './services';
import { startApi } from './api-process';
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
  const secret = await ensureSecret(db, config.secret);
  const ctx = buildContext(config, db, log, secret);
  await announceFirstManagerLink(config, ctx);
  await reportMisconfiguredSegments(ctx);
  const closeApi = await startApi(config, ctx, log);
  onShutdown(log, async () => {
    await closeApi();
    await db.destroy();
  });
});
