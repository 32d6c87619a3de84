//! The path and headers of the model's object calls: the percent-encoded path segments, the
//! `Content-Metadata` list header, and `ReEncrypt`'s `InstructionFileSuffix` and
//! `EnforceRotation`.

use crate::Error;

/// Decode one percent-encoded path segment (`%XX`, two hex digits, to one byte) into UTF-8.
pub fn percent_decode(segment: &str) -> Result<String, Error> {
    let bad = || Error::malformed("malformed percent-encoding in the path");
    let b = segment.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = b.get(i + 1..i + 3).ok_or_else(bad)?;
            let digit = |c: u8| char::from(c).to_digit(16).ok_or_else(bad);
            // Two hex digits exactly: `u8::from_str_radix` would also take a sign ("%+1").
            out.push((digit(hex[0])? * 16 + digit(hex[1])?) as u8);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| bad())
}

/// Parse one `Content-Metadata` header value, appending its pairs to `out`: items
/// `[key]:[value]` joined by `,`, where an item may also be a quoted string (backslash escapes).
/// Empty: no pairs.
pub fn parse_metadata_list(value: &str, out: &mut Vec<(String, String)>) -> Result<(), Error> {
    let bad = |m: &str| {
        Error::Malformed(format!(
            "malformed Content-Metadata item ({m}): expected [key]:[value]"
        ))
    };
    let mut rest = value.trim();
    while !rest.is_empty() {
        let (item, tail) = if let Some(q) = rest.strip_prefix('"') {
            // A quoted list item: up to the closing quote.
            let mut item = String::new();
            let mut chars = q.char_indices();
            let mut end = None;
            while let Some((i, c)) = chars.next() {
                match c {
                    '\\' => {
                        if let Some((_, n)) = chars.next() {
                            item.push(n);
                        }
                    }
                    '"' => {
                        end = Some(i + 1);
                        break;
                    }
                    c => item.push(c),
                }
            }
            let end = end.ok_or_else(|| bad("unterminated quote"))?;
            (item, &q[end..])
        } else {
            // Unquoted: an item ends at `]` followed by `,` (and optional spaces) and `[` or a
            // quote, or at the end of the value.
            let mut cut = rest.len();
            for (i, _) in rest.match_indices(']') {
                let after = rest[i + 1..].trim_start();
                if let Some(next) = after.strip_prefix(',')
                    && next.trim_start().starts_with(['[', '"'])
                {
                    cut = i + 1;
                    break;
                }
            }
            (rest[..cut].to_owned(), &rest[cut..])
        };
        let item = item.trim();
        if !item.is_empty() {
            let inner = item
                .strip_prefix('[')
                .and_then(|t| t.strip_suffix(']'))
                .ok_or_else(|| bad("brackets"))?;
            let (k, v) = inner.split_once("]:[").ok_or_else(|| bad("separator"))?;
            out.push((k.to_owned(), v.to_owned()));
        }
        let tail = tail.trim_start();
        rest = match tail.strip_prefix(',') {
            Some(t) => t.trim_start(),
            None if tail.is_empty() => tail,
            None => return Err(bad("separator between items")),
        };
    }
    Ok(())
}

/// Render pairs as the model's list items, `[key]:[value]`, one per pair.
pub fn render_metadata_list(pairs: &[(String, String)]) -> Vec<String> {
    pairs.iter().map(|(k, v)| format!("[{k}]:[{v}]")).collect()
}

/// The `EnforceRotation` header: absent or empty is unset; otherwise `true` or `false`, in any
/// case.
pub fn enforce_rotation(value: Option<&str>) -> Result<Option<bool>, Error> {
    match value {
        None | Some("") => Ok(None),
        Some(s) if s.eq_ignore_ascii_case("true") => Ok(Some(true)),
        Some(s) if s.eq_ignore_ascii_case("false") => Ok(Some(false)),
        Some(_) => Err(Error::malformed("EnforceRotation must be true or false")),
    }
}

/// The instruction-file suffix `ReEncrypt` writes, from its `InstructionFileSuffix` header.
///
/// The harness's scenarios give the suffix without its dot (`instruction-rsa`) and read it back
/// with one (`.instruction-rsa`), as the Java S3EC's `ReEncryptInstructionFileRequest` prepends a
/// dot: so does this. Absent or empty: `None` (the default suffix).
pub fn reencrypt_suffix(value: Option<&str>) -> Option<String> {
    let s = value.filter(|s| !s.is_empty())?;
    Some(if s.starts_with('.') {
        s.to_owned()
    } else {
        format!(".{s}")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<Vec<(String, String)>, Error> {
        let mut out = Vec::new();
        parse_metadata_list(s, &mut out).map(|()| out)
    }

    fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
        p.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn metadata_list_header() {
        assert_eq!(parse(""), Ok(vec![]));
        assert_eq!(parse("  "), Ok(vec![]));
        assert!(parse(" , ").is_err());
        assert_eq!(parse("[a]:[b]"), Ok(pairs(&[("a", "b")])));
        assert_eq!(
            parse("[a]:[b],[c]:[d, e]"),
            Ok(pairs(&[("a", "b"), ("c", "d, e")]))
        );
        assert_eq!(
            parse("\"[a]:[b,c]\", [d]:[]"),
            Ok(pairs(&[("a", "b,c"), ("d", "")]))
        );
        assert_eq!(parse(r#""[a]:[\"q\"]""#), Ok(pairs(&[("a", "\"q\"")])));
        assert!(matches!(parse("a:b"), Err(Error::Malformed(_))));
        assert!(parse("[a]:[b]x").is_err());
        // Without a comma it is one item: the value runs to the last bracket.
        assert_eq!(parse("[a]:[b] [c]:[d]"), Ok(pairs(&[("a", "b] [c]:[d")])));
        assert!(parse("\"[a]:[b]").is_err());
        assert!(parse("[a][b]").is_err());
        let p = pairs(&[("k1", "v, 1"), ("", ""), ("ü", "ß")]);
        assert_eq!(parse(&render_metadata_list(&p).join(",")), Ok(p));
    }

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode("a%20b").as_deref(), Ok("a b"));
        assert_eq!(percent_decode("%C3%BC%2f").as_deref(), Ok("ü/"));
        assert!(percent_decode("a%2").is_err());
        assert!(percent_decode("%+1").is_err());
        assert!(percent_decode("%-1").is_err());
        assert!(percent_decode("%zz").is_err());
        assert!(percent_decode("%ff").is_err());
    }

    #[test]
    fn rotation_and_suffix() {
        assert_eq!(enforce_rotation(None), Ok(None));
        assert_eq!(enforce_rotation(Some("")), Ok(None));
        assert_eq!(enforce_rotation(Some("TRUE")), Ok(Some(true)));
        assert_eq!(enforce_rotation(Some("false")), Ok(Some(false)));
        assert!(enforce_rotation(Some("yes")).is_err());
        assert_eq!(reencrypt_suffix(None), None);
        assert_eq!(reencrypt_suffix(Some("")), None);
        assert_eq!(reencrypt_suffix(Some("x")).as_deref(), Some(".x"));
        assert_eq!(reencrypt_suffix(Some(".x")).as_deref(), Some(".x"));
    }
}
