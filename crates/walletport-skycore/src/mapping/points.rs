//! Loyalty points as text: Skycore's `loyalty-points` and `secondary-loyalty-points` are free
//! text ("Special characters are allowed for this field", e.g. `$3$`, `$ 4 $`), so reading a
//! balance takes the number out of the text by one documented rule, and writing may wrap the
//! number in a configured display format (`{points} pts`).

use std::str::FromStr;

use walletport_core::{Decimal, Error, Result};

/// The placeholder of `points_format`.
pub const POINTS_PLACEHOLDER: &str = "{points}";
/// The placeholder of `bonus_format`.
pub const BONUS_PLACEHOLDER: &str = "{bonus}";

/// The number in a points text, by the rule documented in docs/providers/skycore.md:
/// the **first** run of digits, with `,` between digits dropped as a thousands separator and one
/// `.` followed by digits kept as the decimal point; a `-` directly before the digits makes it
/// negative. Everything else (currency signs, spaces, units) is ignored: `$3$` → 3,
/// `$ 4 $` → 4, `1,250.5 pts` → 1250.5, `-7` → −7. `None` when the text has no digit.
pub fn number_in(text: &str) -> Option<Decimal> {
    let bytes = text.as_bytes();
    let start = bytes.iter().position(u8::is_ascii_digit)?;
    let negative = start > 0 && bytes[start - 1] == b'-';
    let mut digits = String::new();
    if negative {
        digits.push('-');
    }
    let mut i = start;
    let mut seen_point = false;
    while i < bytes.len() {
        let b = bytes[i];
        let next_is_digit = bytes.get(i + 1).is_some_and(u8::is_ascii_digit);
        match b {
            b'0'..=b'9' => digits.push(char::from(b)),
            b',' if !seen_point && next_is_digit => {}
            b'.' if !seen_point && next_is_digit => {
                seen_point = true;
                digits.push('.');
            }
            _ => break,
        }
        i += 1;
    }
    Decimal::from_str(&digits).ok().map(|d| d.normalize())
}

/// True when `text` is a plain number as we send it (`150.25`), so the card needs no raw copy.
pub fn is_plain(text: &str) -> bool {
    Decimal::from_str(text.trim()).is_ok()
}

/// Checks a display format: exactly one `placeholder`, no other braces, and no digit in the
/// literal text (the read rule takes the first digits, so a digit there would be read back).
pub fn validate_format(key: &str, format: &str, placeholder: &str) -> Result<()> {
    let bad = |why: &str| {
        Err(Error::config(format!(
            "[provider] {key} = `{format}`: {why}"
        )))
    };
    if format.matches(placeholder).count() != 1 {
        return bad(&format!("must contain `{placeholder}` exactly once"));
    }
    let rest = format.replacen(placeholder, "", 1);
    if rest.contains(['{', '}']) {
        return bad(&format!("has braces other than `{placeholder}`"));
    }
    if rest.chars().any(|c| c.is_ascii_digit()) {
        return bad(
            "must not contain digits besides the placeholder (they would be read back as the balance)",
        );
    }
    if rest.chars().any(char::is_control) {
        return bad("must not contain control characters");
    }
    Ok(())
}

/// The text sent for `value`: the plain number, or the configured format around it.
pub fn render(value: Decimal, format: Option<&str>, placeholder: &str) -> String {
    let plain = value.normalize().to_string();
    match format {
        Some(f) => f.replacen(placeholder, &plain, 1),
        None => plain,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Option<Decimal> {
        Decimal::from_str(s).ok()
    }

    #[test]
    fn the_documented_examples_and_the_edges() {
        for (text, want) in [
            ("$3$", d("3")),
            ("$ 4 $", d("4")),
            ("$ 45", d("45")),
            ("$5", d("5")),
            ("100", d("100")),
            ("150.25", d("150.25")),
            ("1,250.5 pts", d("1250.5")),
            ("-7", d("-7")),
            ("12. points", d("12")),
            ("3 of 10", d("3")),
            ("none", None),
            ("", None),
        ] {
            assert_eq!(number_in(text), want, "{text:?}");
        }
    }

    #[test]
    fn formats_are_validated_and_read_back() {
        assert!(validate_format("points_format", "{points} pts", POINTS_PLACEHOLDER).is_ok());
        for bad in ["pts", "{points} {points}", "{points} x2", "{points} {x}"] {
            let e = validate_format("points_format", bad, POINTS_PLACEHOLDER).unwrap_err();
            assert!(e.message().contains("[provider] points_format"), "{bad}");
        }
        let v = Decimal::new(12050, 2);
        let sent = render(v, Some("★ {points} pts"), POINTS_PLACEHOLDER);
        assert_eq!(sent, "★ 120.5 pts");
        assert_eq!(number_in(&sent), Some(v.normalize()));
        assert_eq!(render(v, None, POINTS_PLACEHOLDER), "120.5");
    }
}
