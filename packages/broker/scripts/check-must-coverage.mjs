// Checks MUST-COVERAGE.md against the tests: every file an entry names (`— connect, session`, or
// `tested in publish`) must hold a test whose name carries the entry's clause id.
// Run: node packages/broker/scripts/check-must-coverage.mjs (exit 1 and one line per miss otherwise).
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const quoted = /'((?:[^'\\]|\\.)*)'/g;

/** The text of every test name in a file: `it('…')` titles and the rows of `it.each([…])` tables. */
function testNames(file) {
  const source = readFileSync(file, 'utf8');
  const names = [];
  for (const m of source.matchAll(/\bit\(\s*'((?:[^'\\]|\\.)*)'/g)) names.push(m[1]);
  for (const m of source.matchAll(/\bit\.each\(\[([\s\S]*?)\]\)\(\s*'((?:[^'\\]|\\.)*)'/g)) {
    names.push(m[2]);
    for (const s of m[1].matchAll(quoted)) names.push(s[1]);
  }
  return names.join('\n');
}

const cache = new Map();
const misses = [];
let checked = 0;
for (const line of readFileSync(join(root, 'MUST-COVERAGE.md'), 'utf8').split('\n')) {
  const entry =
    /^- (MQTT-\d+\.\d+\.\d+-\d+) — .*? — (?:the Server's reaction to a violation is tested in )?([a-z0-9, -]+)$/.exec(
      line,
    );
  if (entry === null) continue;
  const [, clause, list] = entry;
  for (const name of list.split(',').map((s) => s.trim())) {
    const file = join(root, 'test', `${name}.integration.test.ts`);
    if (!existsSync(file)) {
      misses.push(`${clause}: no file test/${name}.integration.test.ts`);
      continue;
    }
    if (!cache.has(file)) cache.set(file, testNames(file));
    checked++;
    // The id must not run on into a longer one (MQTT-3.1.2-1 is not MQTT-3.1.2-10).
    if (!new RegExp(`${clause.replaceAll('.', '\\.')}(?![0-9])`).test(cache.get(file)))
      misses.push(`${clause}: no test name in test/${name}.integration.test.ts carries it`);
  }
}
for (const miss of misses) console.log(miss);
console.log(`${checked} (clause, file) pairs checked, ${misses.length} missing`);
process.exit(misses.length === 0 ? 0 : 1);
