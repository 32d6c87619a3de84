// The TypeScript declarations compile against the README's usage (tsc --noEmit, strict).
import { test } from 'node:test';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, symlinkSync, writeFileSync, mkdirSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { here } from './helpers.js';

const tsc = join(here, '..', 'node_modules', 'typescript', 'bin', 'tsc');

test('index.d.ts type-checks the documented usage', { skip: !existsSync(tsc) && 'typescript not installed' }, () => {
  const dir = mkdtempSync(join(tmpdir(), 's3ec-js-types-'));
  try {
    mkdirSync(join(dir, 'node_modules'));
    symlinkSync(join(here, '..'), join(dir, 'node_modules', 's3-encryption'));
    copyFileSync(join(here, 'types-check.ts'), join(dir, 'check.ts'));
    writeFileSync(
      join(dir, 'tsconfig.json'),
      JSON.stringify({ compilerOptions: { strict: true, noEmit: true, module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022', lib: ['es2022', 'dom'], skipLibCheck: false, types: [] }, files: ['check.ts'] }),
    );
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ type: 'module' }));
    execFileSync(process.execPath, [tsc, '-p', dir], { stdio: 'pipe' });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
