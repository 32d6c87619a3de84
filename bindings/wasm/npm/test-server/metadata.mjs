// The model's `Content-Metadata` list header: items `[key]:[value]` joined by `,`; an item may
// also be a quoted string (backslash escapes). Values may hold `, ` themselves: an unquoted item
// ends only at a `]` followed by `,` and the start of the next item.

/**
 * Parse the header (a string, an array of them as Node gives repeated headers, or undefined)
 * into `[key, value]` pairs; `fail(message, status)` makes the error thrown on malformed input.
 */
export function parseMetadata(value, fail) {
  const out = [];
  if (value === undefined) return out;
  for (const v of Array.isArray(value) ? value : [value]) parseList(v, out, fail);
  return out;
}

function parseList(s, out, fail) {
  const bad = (m) => fail(`malformed Content-Metadata item (${m}): expected [key]:[value]`, 400);
  let rest = s.trim();
  while (rest.length) {
    let item;
    if (rest.startsWith('"')) {
      let i = 1;
      let text = '';
      let closed = false;
      for (; i < rest.length; i++) {
        const c = rest[i];
        if (c === '\\') {
          i++;
          if (i < rest.length) text += rest[i];
        } else if (c === '"') {
          closed = true;
          break;
        } else text += c;
      }
      if (!closed) throw bad('unterminated quote');
      item = text;
      rest = rest.slice(i + 1);
    } else {
      let cut = rest.length;
      for (let i = rest.indexOf(']'); i !== -1; i = rest.indexOf(']', i + 1)) {
        const after = rest.slice(i + 1).trimStart();
        if (after.startsWith(',') && /^[["]/.test(after.slice(1).trimStart())) {
          cut = i + 1;
          break;
        }
      }
      item = rest.slice(0, cut);
      rest = rest.slice(cut);
    }
    item = item.trim();
    if (item.length) {
      if (!item.startsWith('[') || !item.endsWith(']')) throw bad('brackets');
      const inner = item.slice(1, -1);
      const sep = inner.indexOf(']:[');
      if (sep === -1) throw bad('separator');
      out.push([inner.slice(0, sep), inner.slice(sep + 3)]);
    }
    rest = rest.trimStart();
    if (rest.startsWith(',')) rest = rest.slice(1).trimStart();
    else if (rest.length) throw bad('separator between items');
  }
}

/** Pairs as the list header: `[k]:[v]` joined by `,`. */
export function metadataList(pairs) {
  return pairs.map(([k, v]) => `[${k}]:[${v}]`).join(',');
}
