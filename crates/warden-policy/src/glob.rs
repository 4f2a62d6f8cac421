//! Glob patterns for model, field and method names: `*` matches any run of characters, `?`
//! exactly one; everything else matches itself, case-sensitively, over the whole name.
//!
//! Patterns are compiled once: a literal compares by equality, the common shapes (`abc*`,
//! `*abc`, `*abc*`, `*`) by one string test, and anything else by a backtracking matcher that
//! is linear in practice and never worse than the product of the two lengths.

/// A compiled pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Glob {
    /// `*`: every name.
    Any,
    /// No wildcard.
    Literal(Box<str>),
    /// `abc*`.
    Prefix(Box<str>),
    /// `*abc`.
    Suffix(Box<str>),
    /// `*abc*`.
    Contains(Box<str>),
    /// Anything else (ASCII bytes; `*` runs collapsed).
    General(Box<[u8]>),
}

/// Why a pattern was refused.
pub(crate) fn check_pattern(pattern: &str) -> Result<(), &'static str> {
    if pattern.is_empty() {
        return Err("a pattern cannot be empty");
    }
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '*' | '?' | '-');
    if !pattern.chars().all(allowed) {
        return Err("only letters, digits and _ . - * ? are allowed");
    }
    Ok(())
}

impl Glob {
    /// Compiles a pattern after [`check_pattern`].
    pub(crate) fn new(pattern: &str) -> Result<Glob, &'static str> {
        check_pattern(pattern)?;
        // Collapse runs of `*`: they mean the same as one.
        let mut collapsed = String::with_capacity(pattern.len());
        for c in pattern.chars() {
            if c == '*' && collapsed.ends_with('*') {
                continue;
            }
            collapsed.push(c);
        }
        let p = collapsed.as_str();
        let plain = |s: &str| !s.contains(['*', '?']);
        if p == "*" {
            return Ok(Glob::Any);
        }
        if plain(p) {
            return Ok(Glob::Literal(p.into()));
        }
        let inner_start = usize::from(p.starts_with('*'));
        let inner_end = p.len() - usize::from(p.ends_with('*'));
        let inner = &p[inner_start..inner_end.max(inner_start)];
        if plain(inner) && !inner.is_empty() {
            return Ok(match (p.starts_with('*'), p.ends_with('*')) {
                (true, true) => Glob::Contains(inner.into()),
                (true, false) => Glob::Suffix(inner.into()),
                (false, true) => Glob::Prefix(inner.into()),
                (false, false) => Glob::General(p.as_bytes().into()),
            });
        }
        Ok(Glob::General(p.as_bytes().into()))
    }

    /// The literal text when the pattern has no wildcard.
    pub(crate) fn literal(&self) -> Option<&str> {
        match self {
            Glob::Literal(s) => Some(s),
            _ => None,
        }
    }

    /// Whether the whole of `name` matches.
    pub(crate) fn matches(&self, name: &str) -> bool {
        match self {
            Glob::Any => true,
            Glob::Literal(s) => name == &**s,
            Glob::Prefix(s) => name.starts_with(&**s),
            Glob::Suffix(s) => name.ends_with(&**s),
            Glob::Contains(s) => name.contains(&**s),
            Glob::General(p) => general(p, name),
        }
    }
}

/// Byte length of the character starting at byte `i` of `s` (`i` is a character boundary).
fn char_len(s: &str, i: usize) -> usize {
    s[i..].chars().next().map_or(1, char::len_utf8)
}

/// The classic wildcard matcher with one backtracking point (the last `*`). The pattern is
/// ASCII; `?` consumes one whole character of `name`, so a non-ASCII name is matched by
/// characters, not bytes.
fn general(pattern: &[u8], name: &str) -> bool {
    let text = name.as_bytes();
    let (mut pi, mut ti) = (0usize, 0usize);
    // (pattern index after the last `*`, text index that `*` currently extends to)
    let mut star: Option<(usize, usize)> = None;
    while ti < text.len() {
        match pattern.get(pi) {
            Some(b'?') => {
                ti += char_len(name, ti);
                pi += 1;
                continue;
            }
            Some(b'*') => {
                star = Some((pi + 1, ti));
                pi += 1;
                continue;
            }
            // A pattern byte is ASCII, so equal bytes here are the same whole character.
            Some(&c) if c == text[ti] => {
                pi += 1;
                ti += 1;
                continue;
            }
            _ => {}
        }
        match star {
            Some((after_star, extent)) => {
                let next = extent + char_len(name, extent);
                star = Some((after_star, next));
                pi = after_star;
                ti = next;
            }
            None => return false,
        }
    }
    pattern[pi..].iter().all(|&c| c == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_and_matches() {
        let cases: &[(&str, &str, bool)] = &[
            ("*", "", true),
            ("*", "anything", true),
            ("sale.order", "sale.order", true),
            ("sale.order", "sale.order.line", false),
            ("sale.*", "sale.order", true),
            ("sale.*", "sale.", true),
            ("sale.*", "sales.order", false),
            ("*email*", "email", true),
            ("*email*", "work_email_2", true),
            ("*email*", "Email", false),
            ("*_id", "partner_id", true),
            ("*_id", "partner_ids", false),
            ("private_*", "private_phone", true),
            ("x?z", "xyz", true),
            ("x?z", "xz", false),
            ("x?z", "xéz", true),
            ("a*b*c", "aXXbYYc", true),
            ("a*b*c", "aXXbYY", false),
            ("a*b*c", "abcabc", true),
            ("**a**", "bab", true),
            ("?", "", false),
            ("*?", "", false),
            ("*?", "a", true),
            ("a*", "a", true),
            ("*a*b", "ab", true),
            ("*a*b", "ba", false),
        ];
        for &(pattern, name, expected) in cases {
            let glob = Glob::new(pattern).unwrap();
            assert_eq!(glob.matches(name), expected, "{pattern:?} against {name:?}");
        }
    }

    #[test]
    fn compiled_shapes() {
        assert_eq!(Glob::new("**").unwrap(), Glob::Any);
        assert_eq!(Glob::new("abc").unwrap().literal(), Some("abc"));
        assert!(matches!(Glob::new("ab*").unwrap(), Glob::Prefix(_)));
        assert!(matches!(Glob::new("*ab").unwrap(), Glob::Suffix(_)));
        assert!(matches!(Glob::new("**ab**").unwrap(), Glob::Contains(_)));
        assert!(matches!(Glob::new("a?b").unwrap(), Glob::General(_)));
    }

    #[test]
    fn refused_patterns() {
        for bad in ["", "sale order", "a/b", "é", "[abc]", "a,b"] {
            assert!(Glob::new(bad).is_err(), "{bad:?}");
        }
    }
}
