/**
 * Builds dist/ once before any test file runs, exactly as `npm run build` does (TypeScript, then the console's views
 * and static files): some tests start the real entry points as child processes.
 */
const { execFileSync } = require('node:child_process');
const path = require('node:path');

module.exports = async () => {
  const root = path.resolve(__dirname, '..');
  execFileSync('npm', ['run', '--silent', 'build'], { cwd: root, stdio: 'inherit' });
};
