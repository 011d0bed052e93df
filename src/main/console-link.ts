/** `npm run console:link -- EMAIL`: prints a single-use sign-in link to the staff console for that staff member. */
import { connectPostgres, createLogger, loadConfigOrExit, runMain, StartupError } from './startup';
import { buildContext } from './services';
import { ensureSecret } from '../services/auth.service';
import { issueSignInLink, SIGN_IN_LINK_MS } from '../services/session.service';
import { NotFoundError } from '../services/errors';

runMain(async () => {
  const email = process.argv[2]?.trim();
  if (!email) throw new StartupError('usage: npm run console:link -- EMAIL (the email of an active staff member)');
  const config = loadConfigOrExit();
  const log = createLogger(config.logLevel === 'info' ? 'warn' : config.logLevel);
  const db = await connectPostgres(config, log, true, 2);
  try {
    const ctx = buildContext(config, db, log, await ensureSecret(db, config.secret));
    const link = await issueSignInLink(ctx, email);
    process.stdout.write(
      `Sign-in link for ${link.staff.name} <${link.staff.email}>, single use, valid ${SIGN_IN_LINK_MS / 60_000} minutes:\n\n` +
        `    ${link.url}\n`,
    );
  } catch (err) {
    if (err instanceof NotFoundError) throw new StartupError(`no active staff member has the email ${email}`);
    throw err;
  } finally {
    await db.destroy();
  }
});
