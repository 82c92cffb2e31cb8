//! Request bodies: `multipart/form-data` or `application/x-www-form-urlencoded`, built as bytes.
//!
//! Passteam reads every parameter as a form field and template variables as `values[%NAME%]`.
//! The document warns that `[`, `%` and `]` break naive clients; here the form encoding
//! percent-encodes them (`values%5B%25BALANCE%25%5D=7500`, exactly the document's example) and
//! the multipart encoding carries names and values verbatim inside quoted part headers. The
//! multipart boundary is derived from the content, so the same request always has the same bytes
//! (stable fixtures and snapshots) and the boundary never occurs inside a value.

use bytes::Bytes;

use crate::config::BodyEncoding;

/// The form field name of template variable `name`: `values[%NAME%]`.
pub fn variable_key(name: &str) -> String {
    format!("values[%{name}%]")
}

/// The variable name inside a `values[%NAME%]` field name, if it is one.
pub fn parse_variable_key(key: &str) -> Option<&str> {
    key.strip_prefix("values[%")?.strip_suffix("%]")
}

/// Ordered form fields of one request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FormBody {
    fields: Vec<(String, String)>,
}

impl FormBody {
    /// An empty body.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends a plain field (builder style).
    #[must_use]
    pub fn field(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.push(name, value);
        self
    }

    /// Appends a plain field.
    pub fn push(&mut self, name: impl Into<String>, value: impl Into<String>) {
        self.fields.push((name.into(), value.into()));
    }

    /// Appends template variable `name` as `values[%name%]`.
    pub fn push_variable(&mut self, name: &str, value: impl Into<String>) {
        self.push(variable_key(name), value);
    }

    /// The fields in order.
    pub fn fields(&self) -> &[(String, String)] {
        &self.fields
    }

    /// True when there is no field.
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// Encodes the body; returns the `Content-Type` header value and the bytes.
    pub fn encode(&self, encoding: BodyEncoding) -> (String, Bytes) {
        match encoding {
            BodyEncoding::Form => (
                "application/x-www-form-urlencoded".to_owned(),
                Bytes::from(self.to_urlencoded()),
            ),
            BodyEncoding::Multipart => {
                let boundary = self.boundary();
                let body = self.to_multipart(&boundary);
                (
                    format!("multipart/form-data; boundary={boundary}"),
                    Bytes::from(body),
                )
            }
        }
    }

    /// `a=1&values%5B%25B%25%5D=2`: every byte outside `[A-Za-z0-9*-._]` percent-encoded,
    /// spaces as `+`.
    pub fn to_urlencoded(&self) -> String {
        let mut ser = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in &self.fields {
            ser.append_pair(k, v);
        }
        ser.finish()
    }

    /// A boundary derived from the content (FNV-1a), re-derived until it occurs in no field.
    pub fn boundary(&self) -> String {
        let mut salt = 0u64;
        loop {
            let mut h = Fnv::new();
            h.write(&salt.to_le_bytes());
            for (k, v) in &self.fields {
                h.write(k.as_bytes());
                h.write(&[0]);
                h.write(v.as_bytes());
                h.write(&[0]);
            }
            let boundary = format!("walletport-{:016x}", h.finish());
            let clashes = self
                .fields
                .iter()
                .any(|(k, v)| k.contains(&boundary) || v.contains(&boundary));
            if !clashes {
                return boundary;
            }
            salt += 1;
        }
    }

    /// The multipart body with `boundary` (RFC 7578). Field names are quoted with `"`, CR and
    /// LF escaped as `%22`, `%0D`, `%0A` (the HTML convention; variable names never contain
    /// them, see [`crate::config::check_variable_name`]); values are raw UTF-8.
    pub fn to_multipart(&self, boundary: &str) -> Vec<u8> {
        let mut out = Vec::new();
        for (k, v) in &self.fields {
            out.extend_from_slice(b"--");
            out.extend_from_slice(boundary.as_bytes());
            out.extend_from_slice(b"\r\nContent-Disposition: form-data; name=\"");
            out.extend_from_slice(escape_name(k).as_bytes());
            out.extend_from_slice(b"\"\r\n\r\n");
            out.extend_from_slice(v.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"--");
        out.extend_from_slice(boundary.as_bytes());
        out.extend_from_slice(b"--\r\n");
        out
    }
}

fn escape_name(name: &str) -> String {
    name.replace('"', "%22")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// 64-bit FNV-1a: tiny, stable across versions and platforms (unlike `DefaultHasher`).
struct Fnv(u64);

impl Fnv {
    fn new() -> Self {
        Self(0xcbf2_9ce4_8422_2325)
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_encoding_matches_the_documents_example() {
        let mut b = FormBody::new().field("cardId", "5bea7e305abcfd6b708b4573");
        b.push_variable("BALANCE", "7500");
        b.push_variable("_CODE", "3006880536055");
        b.push_variable("NUMBERCARD", "3006880536055");
        b.push_variable("DISCOUNT", "5");
        assert_eq!(
            b.to_urlencoded(),
            "cardId=5bea7e305abcfd6b708b4573&values%5B%25BALANCE%25%5D=7500&values%5B%25_CODE%25\
             %5D=3006880536055&values%5B%25NUMBERCARD%25%5D=3006880536055&values%5B%25DISCOUN\
             T%25%5D=5"
        );
    }

    #[test]
    fn multipart_is_deterministic_and_boundary_free() {
        let mut b = FormBody::new().field("templateId", "t1");
        b.push_variable("PHONE", "+79990000001");
        let (ct1, body1) = b.encode(BodyEncoding::Multipart);
        let (ct2, body2) = b.encode(BodyEncoding::Multipart);
        assert_eq!((ct1.clone(), body1.clone()), (ct2, body2));
        let boundary = ct1.trim_start_matches("multipart/form-data; boundary=");
        let text = String::from_utf8_lossy(&body1);
        assert!(text.contains("name=\"values[%PHONE%]\"\r\n\r\n+79990000001\r\n"));
        assert!(text.ends_with(&format!("--{boundary}--\r\n")));

        // A value containing the natural boundary forces another one.
        let natural = FormBody::new().field("a", "x").boundary();
        let tricky = FormBody::new().field("a", format!("x{natural}"));
        assert_ne!(tricky.boundary(), natural);
        assert!(!format!("x{natural}").contains(&tricky.boundary()));
    }

    #[test]
    fn variable_keys_round_trip() {
        for name in ["PHONE", "%", "a]b", "[x]", "Имя", ""] {
            assert_eq!(parse_variable_key(&variable_key(name)), Some(name));
        }
        assert_eq!(parse_variable_key("cardId"), None);
    }
}
