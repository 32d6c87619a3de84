// The harness server's Content-Metadata list header (test-server/metadata.mjs), as the Rust
// server's `metadata_list_header` test reads it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseMetadata, metadataList } from '../test-server/metadata.mjs';

const fail = (message, status) => Object.assign(new Error(message), { status });
const parse = (s) => parseMetadata(s, fail);

test('Content-Metadata: items [key]:[value] joined by commas, quoted items, values with commas', () => {
  assert.deepEqual(parse(undefined), []);
  assert.deepEqual(parse(''), []);
  assert.deepEqual(parse('[a]:[b]'), [['a', 'b']]);
  assert.deepEqual(parse('[a]:[b],[c]:[d, e]'), [['a', 'b'], ['c', 'd, e']]);
  assert.deepEqual(parse('"[a]:[b,c]", [d]:[]'), [['a', 'b,c'], ['d', '']]);
  assert.deepEqual(parse(['[a]:[b]', '[c]:[d]']), [['a', 'b'], ['c', 'd']]);
  for (const bad of ['a:b', '[a]:[b]x', '"[a]:[b]', '[a]-[b]']) {
    assert.throws(() => parse(bad), (e) => e.status === 400, bad);
  }
  assert.equal(metadataList([['a', 'b'], ['c', 'd, e']]), '[a]:[b],[c]:[d, e]');
});
