// Finding the native engine in Node.js: the per-platform package (an optional dependency, as
// npm installs it), then the in-tree build of `bindings/node/build.sh`.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

function isMusl() {
  const header = process.report?.getReport?.()?.header;
  return header !== undefined && !header.glibcVersionRuntime;
}

/** This platform's package suffix, as the platform packages are named: `linux-x64-gnu`, … */
export function platformTriple() {
  const { platform, arch } = process;
  if (platform === 'linux') return `linux-${arch}-${isMusl() ? 'musl' : 'gnu'}`;
  if (platform === 'win32') return `win32-${arch}-msvc`;
  return `${platform}-${arch}`;
}

/**
 * The addon's exports, or `undefined` when none loads here; with `required` (S3EC_ENGINE=native)
 * that is an error naming what was tried.
 */
export function loadNative(required) {
  const triple = platformTriple();
  const tried = [];
  for (const id of [`@s3-encryption/${triple}`, `../platforms/${triple}/s3ec.${triple}.node`]) {
    try {
      return require(id);
    } catch (e) {
      tried.push(`${id}: ${e.code ?? e.message}`);
    }
  }
  if (required) throw new Error(`S3EC_ENGINE=native, but no native engine loads on ${triple} (tried ${tried.join('; ')})`);
  return undefined;
}
