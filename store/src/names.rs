//! What a database name, a tag and a host name may be.
//!
//! They are shown in listings, matched by `--db` and `--keep-tag`, and name lineages, so two
//! that look the same must be the same: no control characters (newlines, escape sequences), no
//! invisible or direction-changing characters (zero-width spaces, bidi overrides, a soft hyphen,
//! a byte-order mark), no white space but plain spaces and none at either end, no leading
//! combining mark, Unicode normal form NFKC (no full-width letters, no accent written apart from
//! its letter), no letters of confusable scripts mixed (UTS 39 restriction levels up to
//! "moderately restrictive": Latin with Cyrillic or Greek is refused), not empty, at most 255
//! bytes. A tag also has no comma (listings join tags with commas). A new database whose name
//! looks like an existing one's (the same UTS 39 skeleton) is refused by ingest and copy.

use unicode_normalization::{UnicodeNormalization, is_nfkc};
use unicode_security::{RestrictionLevel, RestrictionLevelDetection};

use crate::{Result, StoreError};

/// Longest name, tag or host, in bytes.
pub const MAX_LEN: usize = 255;

/// Characters that render as nothing, as a blank, or reorder what follows: zero-width characters,
/// joiners, bidi marks, embeddings, overrides and isolates, word joiner and invisible operators,
/// BOM, soft hyphen, Mongolian vowel separator, Hangul fillers, Braille blank, line and paragraph
/// separators, tag characters and variation selectors.
fn invisible(c: char) -> bool {
    matches!(c, '\u{00AD}' | '\u{034F}' | '\u{061C}' | '\u{115F}' | '\u{1160}' | '\u{17B4}' | '\u{17B5}' | '\u{180E}'
        | '\u{200B}'..='\u{200F}' | '\u{2028}'..='\u{202E}' | '\u{2060}'..='\u{206F}' | '\u{2800}' | '\u{3164}'
        | '\u{FE00}'..='\u{FE0F}' | '\u{FEFF}' | '\u{FFA0}' | '\u{FFF9}'..='\u{FFFB}' | '\u{E0000}'..='\u{E007F}'
        | '\u{E0100}'..='\u{E01EF}')
}

/// A combining mark, which joins the character before it (a name must not begin with one).
fn combining(c: char) -> bool {
    matches!(c, '\u{0300}'..='\u{036F}' | '\u{0483}'..='\u{0489}' | '\u{1AB0}'..='\u{1AFF}' | '\u{1DC0}'..='\u{1DFF}' | '\u{20D0}'..='\u{20FF}' | '\u{FE20}'..='\u{FE2F}')
}

fn check(what: &str, s: &str, extra: Option<char>) -> Result<()> {
    let problem = if s.is_empty() {
        Some("is empty".to_string())
    } else if s.len() > MAX_LEN {
        Some(format!("is {} bytes long (at most {MAX_LEN})", s.len()))
    } else if let Some(c) = s.chars().find(|c| c.is_control()) {
        Some(format!("contains the control character U+{:04X}", c as u32))
    } else if let Some(c) = s.chars().find(|c| invisible(*c)) {
        Some(format!("contains the invisible character U+{:04X}, which would make it look like another", c as u32))
    } else if s.trim() != s {
        Some("begins or ends with white space".to_string())
    } else if let Some(c) = s.chars().find(|c| c.is_whitespace() && *c != ' ') {
        Some(format!("contains the white space character U+{:04X}; only plain spaces are allowed", c as u32))
    } else if s.starts_with(combining) {
        Some("begins with a combining mark".to_string())
    } else if !is_nfkc(s) {
        Some(format!(
            "is not in Unicode normal form NFKC (full-width letters, ligatures, or an accent written apart from its letter), so it could look like another: write it as {:?}",
            s.nfkc().collect::<String>()
        ))
    } else if s.chars().filter(|c| c.is_alphabetic()).collect::<String>().as_str().detect_restriction_level() > RestrictionLevel::ModeratelyRestrictive {
        Some("mixes letters of scripts that look alike (such as Latin and Cyrillic), so it could look like another".to_string())
    } else {
        extra.filter(|c| s.contains(*c)).map(|c| format!("contains {c:?}"))
    };
    match problem {
        Some(p) => Err(StoreError::Invalid(format!("{what} {s:?} {p}"))),
        None => Ok(()),
    }
}

/// What two names that look alike have in common (UTS 39's skeleton): `shop` written with a
/// Cyrillic `о` has the skeleton of `shop`.
pub fn skeleton(s: &str) -> String {
    unicode_security::skeleton(s).collect()
}

/// Check a database name.
pub fn check_db(db: &str) -> Result<()> {
    check("database name", db, None)
}

/// Check a tag.
pub fn check_tag(tag: &str) -> Result<()> {
    check("tag", tag, Some(','))
}

/// Check a host name.
pub fn check_host(host: &str) -> Result<()> {
    check("host name", host, None)
}

/// Check everything an ingest records about where a dump belongs.
pub fn check_labels(db: &str, host: Option<&str>, tags: &[String]) -> Result<()> {
    check_db(db)?;
    host.map(check_host).transpose()?;
    tags.iter().try_for_each(|t| check_tag(t))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_could_be_mistaken_for_others_are_refused() {
        for ok in ["shop", "Shop 2", "café", "日本", "a-b_c.d", "売上_sales", "заказы", "sh\u{00F3}p"] {
            check_db(ok).unwrap();
        }
        for bad in ["", "shop\n", "shop\u{1b}[31m", "sh\u{200B}op", "\u{202E}pohs", "shop ", " shop", "shop\u{FEFF}", "sh\u{00AD}op",
            "a\u{2028}b", "a\u{E0041}b", "\u{0301}", "\u{2800}", "a\u{00A0}b", "a\u{3000}b", "a\u{1680}b",
            "sh\u{043E}p", "\u{FF53}hop", "sho\u{0301}p"] {
            assert!(check_db(bad).is_err(), "{bad:?} accepted");
        }
        assert!(check_db(&"x".repeat(256)).is_err());
        check_db(&"x".repeat(255)).unwrap();
        assert!(check_tag("a,b").is_err());
        check_host("db1.example.net").unwrap();
        assert_eq!(skeleton("\u{0455}hop"), skeleton("shop"), "whole-script look-alikes share a skeleton");
        assert_ne!(skeleton("shop"), skeleton("shot"));
        let e = check_labels("shop", Some("h"), &["ok".into(), "bad\ttag".into()]).unwrap_err();
        assert!(e.to_string().contains("tag \"bad\\ttag\" contains the control character U+0009"), "{e}");
    }
}
