/**
 * `npm run import -- FILE [--format csv|ndjson] [--date-format dmy|mdy] [--source NAME] [--currency CODE]`: imports a
 * sales file straight into the database, in this process, with the same service as POST /v1/imports and the worker.
 * A progress bar (rows per second, time left) goes to stderr; the summary goes to stdout. Exit status 0 when the
 * import completed (rejected rows included), 1 when it failed.
 */
import { createReadStream, statSync } from 'node:fs';
import path from 'node:path';
import { connectPostgres, createLogger, loadConfigOrExit, runMain, StartupError } from './startup';
import { buildContext } from './services';
import { ensureSecret } from '../services/auth.service';
import { createImport, processImport, type ImportReport, type ImportSettings } from '../services/import.service';
import { installZoneOffsetCache } from './zone-offset-cache';

interface Args {
  file: string;
  settings: ImportSettings;
  batchSize?: number;
}

const USAGE =
  'usage: npm run import -- FILE [--format csv|ndjson] [--date-format dmy|mdy] [--source NAME] [--currency CODE] [--batch-size N]';

function parseArgs(argv: string[]): Args {
  let file: string | undefined;
  const flags: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '-h' || a === '--help') throw new StartupError(USAGE);
    if (a.startsWith('--')) {
      const [key, inline] = a.slice(2).split('=', 2);
      const value = inline ?? argv[++i];
      if (value === undefined) throw new StartupError(`--${key} needs a value. ${USAGE}`);
      flags[key] = value;
    } else if (!file) file = a;
    else throw new StartupError(`one file at a time. ${USAGE}`);
  }
  if (!file) throw new StartupError(USAGE);
  const known = ['format', 'date-format', 'source', 'currency', 'batch-size'];
  const unknown = Object.keys(flags).filter((k) => !known.includes(k));
  if (unknown.length) throw new StartupError(`unknown option --${unknown[0]}. ${USAGE}`);
  const ext = path.extname(file).toLowerCase();
  const format =
    flags.format ?? (ext === '.csv' ? 'csv' : ext === '.ndjson' || ext === '.jsonl' ? 'ndjson' : undefined);
  if (format !== 'csv' && format !== 'ndjson')
    throw new StartupError(`cannot tell the format of ${file}: use --format csv or --format ndjson`);
  const batchSize = flags['batch-size'] ? Number(flags['batch-size']) : undefined;
  if (batchSize !== undefined && (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 50_000))
    throw new StartupError('--batch-size must be 1 to 50000');
  return {
    file,
    batchSize,
    settings: {
      format,
      dateFormat: flags['date-format'] as ImportSettings['dateFormat'],
      source: flags.source,
      currency: flags.currency,
      fileName: path.basename(file),
    },
  };
}

/** Progress draws a one-line bar on stderr, at most ten times a second. */
class ProgressBar {
  private last = 0;
  private readonly started = Date.now();

  constructor(
    private readonly label: string,
    private readonly total: number,
  ) {}

  update(done: number, extra: { rows?: number; force?: boolean } = {}): void {
    const t = Date.now();
    if (!extra.force && t - this.last < 100) return;
    this.last = t;
    const elapsed = (t - this.started) / 1000;
    const fraction = this.total > 0 ? Math.min(1, done / this.total) : 0;
    const width = 30;
    const filled = Math.round(fraction * width);
    const rate =
      extra.rows !== undefined && elapsed > 0
        ? `${Math.round(extra.rows / elapsed).toLocaleString('en')} rows/s`
        : `${mb(done / Math.max(elapsed, 0.001))}/s`;
    const eta =
      fraction > 0 && fraction < 1
        ? `ETA ${duration((elapsed / fraction) * (1 - fraction))}`
        : fraction >= 1
          ? `${duration(elapsed)}`
          : 'ETA --';
    const rows = extra.rows !== undefined ? ` ${extra.rows.toLocaleString('en')} rows` : '';
    const line = `${this.label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${(fraction * 100).toFixed(1)}%${rows} ${rate} ${eta}`;
    process.stderr.write(process.stderr.isTTY ? `\r${line}\x1b[K` : `${line}\n`);
  }

  done(): void {
    if (process.stderr.isTTY) process.stderr.write('\n');
  }
}

function mb(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

function duration(seconds: number): string {
  const s = Math.round(seconds);
  return s >= 3600
    ? `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`
    : `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
}

/** formatReport is the summary printed at the end, the same figures as GET /v1/imports/:id. */
export function formatReport(r: ImportReport, seconds: number): string {
  const lines = [
    `import ${r.id}: ${r.status}${r.error ? ` (${r.error})` : ''}`,
    `  rows read:              ${r.rowsRead}`,
    `  sales read:             ${r.salesRead}`,
    `  imported:               ${r.imported}`,
    `  skipped as duplicates:  ${r.duplicates}`,
    `  rejected:               ${r.rejected}`,
    `  time:                   ${seconds.toFixed(1)} s (${Math.round(r.salesRead / Math.max(seconds, 0.001))} sales/s)`,
    `  peak memory (RSS):      ${Math.round(process.resourceUsage().maxRSS / 1024)} MB`,
  ];
  if (r.rejections.length) {
    lines.push('  rejected rows:');
    for (const x of r.rejections) lines.push(`    line ${x.line}: ${x.field}: ${x.reason}`);
    if (r.moreRejections) lines.push(`    ... and ${r.moreRejections} more`);
  }
  return `${lines.join('\n')}\n`;
}

runMain(async () => {
  installZoneOffsetCache();
  const args = parseArgs(process.argv.slice(2));
  let size: number;
  try {
    size = statSync(args.file).size;
  } catch (err) {
    throw new StartupError(`cannot read ${args.file}: ${(err as Error).message}`);
  }
  const config = loadConfigOrExit();
  const log = createLogger(config.logLevel === 'info' ? 'warn' : config.logLevel);
  const db = await connectPostgres(config, log, true);
  try {
    const ctx = buildContext(config, db, log, await ensureSecret(db, config.secret));
    const started = Date.now();
    const upload = new ProgressBar('storing  ', size);
    const created = await createImport(
      ctx,
      args.settings,
      createReadStream(args.file, { highWaterMark: 1024 * 1024 }),
      'cli',
      (bytes) => upload.update(bytes),
    );
    upload.update(size, { force: true });
    upload.done();
    const bar = new ProgressBar('importing', size);
    const report = await processImport(ctx, created.id, {
      batchSize: args.batchSize,
      onProgress: (p) => bar.update(p.bytesDone, { rows: p.rowsRead }),
    });
    bar.update(size, { rows: report.rowsRead, force: true });
    bar.done();
    process.stdout.write(formatReport(report, (Date.now() - started) / 1000));
    process.exitCode = report.status === 'completed' ? 0 : 1;
  } finally {
    await db.destroy();
  }
});
