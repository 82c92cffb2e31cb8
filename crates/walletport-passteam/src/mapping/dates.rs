//! Date formats of `date` and `date_time` variables, read from the template's
//! `params->dateStyle` ("формат указывается в params->dateStyle").
//!
//! The document names the parameter but not its syntax; the adapter reads it as a
//! Java/ICU-style pattern (`dd.MM.yyyy`, `yyyy-MM-dd HH:mm`), the form the sandbox shows. A style
//! with any other letter is refused as a configuration error naming the variable, rather than
//! sending dates the vendor would reject or misread.

use chrono::{NaiveDate, NaiveDateTime};

/// The style a `date` variable has when its template gives none (the document's 1C format).
pub const DEFAULT_DATE_STYLE: &str = "dd.MM.yyyy";
/// The style a `date_time` variable has when its template gives none.
pub const DEFAULT_DATE_TIME_STYLE: &str = "dd.MM.yyyy HH:mm:ss";

/// A `dateStyle` pattern translated to a chrono format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DateStyle {
    pattern: String,
    chrono: String,
}

impl DateStyle {
    /// Translates `pattern`; `Err` names the first token that is not a known one. Known:
    /// `yyyy yy MM M dd d HH H mm ss`, and the separators `. - / : , T` and space.
    pub fn parse(pattern: &str) -> Result<Self, String> {
        let mut chrono = String::new();
        let chars: Vec<char> = pattern.trim().chars().collect();
        if chars.is_empty() {
            return Err("an empty dateStyle".into());
        }
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            let run = chars[i..].iter().take_while(|x| **x == c).count();
            let spec = match (c, run) {
                ('y', 4) => "%Y",
                ('y', 2) => "%y",
                ('M', 2) => "%m",
                ('M', 1) => "%-m",
                ('d', 2) => "%d",
                ('d', 1) => "%-d",
                ('H', 2) => "%H",
                ('H', 1) => "%-H",
                ('m', 2) => "%M",
                ('s', 2) => "%S",
                ('.' | '-' | '/' | ':' | ',' | ' ' | 'T', _) => {
                    chrono.extend(std::iter::repeat_n(c, run));
                    i += run;
                    continue;
                }
                _ => {
                    return Err(format!(
                        "`{}` in dateStyle `{pattern}` is not a known pattern token",
                        chars[i..i + run].iter().collect::<String>()
                    ));
                }
            };
            chrono.push_str(spec);
            i += run;
        }
        Ok(Self {
            pattern: pattern.trim().to_owned(),
            chrono,
        })
    }

    /// The style of a variable of `kind` (`date` or `date_time`) whose template gives none.
    pub fn default_for(date_time: bool) -> Self {
        let pattern = if date_time {
            DEFAULT_DATE_TIME_STYLE
        } else {
            DEFAULT_DATE_STYLE
        };
        Self::parse(pattern).unwrap_or_else(|_| Self {
            pattern: pattern.into(),
            chrono: "%d.%m.%Y".into(),
        })
    }

    /// The pattern as the template gives it.
    pub fn pattern(&self) -> &str {
        &self.pattern
    }

    /// True when the pattern carries a time of day.
    pub fn has_time(&self) -> bool {
        self.chrono.contains("%H") || self.chrono.contains("%-H")
    }

    /// A date in this style (a time of day in the pattern is midnight).
    pub fn format_date(&self, date: NaiveDate) -> String {
        match date.and_hms_opt(0, 0, 0) {
            Some(dt) if self.has_time() => dt.format(&self.chrono).to_string(),
            _ => date.format(&self.chrono).to_string(),
        }
    }

    /// A date written in this style (the date part of a date-time style).
    pub fn parse_date(&self, value: &str) -> Option<NaiveDate> {
        let v = value.trim();
        if self.has_time() {
            return self.parse_date_time(v).map(|dt| dt.date());
        }
        NaiveDate::parse_from_str(v, &self.chrono).ok()
    }

    /// A date and time written in this style (a date-only style reads as midnight).
    pub fn parse_date_time(&self, value: &str) -> Option<NaiveDateTime> {
        let v = value.trim();
        if self.has_time() {
            return NaiveDateTime::parse_from_str(v, &self.chrono).ok();
        }
        NaiveDate::parse_from_str(v, &self.chrono)
            .ok()
            .and_then(|d| d.and_hms_opt(0, 0, 0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn styles_format_and_parse_their_own_dates() {
        let day = NaiveDate::from_ymd_opt(1980, 1, 25).unwrap_or_default();
        for (pattern, text) in [
            ("dd.MM.yyyy", "25.01.1980"),
            ("yyyy-MM-dd", "1980-01-25"),
            ("MM/dd/yyyy", "01/25/1980"),
            ("d.M.yy", "25.1.80"),
            ("dd.MM.yyyy HH:mm", "25.01.1980 00:00"),
        ] {
            let s = DateStyle::parse(pattern).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(s.format_date(day), text, "{pattern}");
            assert_eq!(s.parse_date(text), Some(day), "{pattern}");
        }
        let us = DateStyle::parse("MM/dd/yyyy").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            us.parse_date("25.01.1980"),
            None,
            "another style is not read"
        );
        assert!(DateStyle::parse("PKDateStyleShort").is_err_and(|e| e.contains("`P`")));
        assert!(DateStyle::parse("").is_err());
        assert_eq!(DateStyle::default_for(false).format_date(day), "25.01.1980");
    }
}
