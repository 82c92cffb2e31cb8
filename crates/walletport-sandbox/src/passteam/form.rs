//! Request bodies as Passteam reads them: `multipart/form-data` (parsed with `multer`, an
//! implementation independent of the adapter's encoder) or `application/x-www-form-urlencoded`,
//! plus the query string. Template variables arrive as `values[%NAME%]`.

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::http::HeaderMap;

/// The decoded fields of one request, in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Form {
    /// Every `name = value`, in wire order.
    pub fields: Vec<(String, String)>,
}

impl Form {
    /// The first value of plain field `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The first value of `name`, trimmed, if non-empty.
    pub fn text(&self, name: &str) -> Option<String> {
        self.get(name)
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    }

    /// Template variables (`values[%NAME%]` or `values[NAME]`), names without `%`, in order.
    pub fn variables(&self) -> Vec<(String, String)> {
        self.fields
            .iter()
            .filter_map(|(k, v)| variable_name(k).map(|n| (n.to_owned(), v.clone())))
            .collect()
    }

    /// The fields as a map (last value wins), for sale / product parameters.
    pub fn map(&self) -> BTreeMap<String, String> {
        self.fields.iter().cloned().collect()
    }
}

/// `values[%NAME%]` → `NAME`; also `values[NAME]`.
pub fn variable_name(key: &str) -> Option<&str> {
    let inner = key.strip_prefix("values[")?.strip_suffix(']')?;
    Some(
        inner
            .strip_prefix('%')
            .and_then(|i| i.strip_suffix('%'))
            .unwrap_or(inner),
    )
}

/// Decodes `body` by its `Content-Type`; `query` fields come first. An empty body with no
/// content type is an empty form.
pub async fn decode(headers: &HeaderMap, query: Option<&str>, body: Bytes) -> Result<Form, String> {
    let mut form = Form::default();
    if let Some(q) = query {
        form.fields
            .extend(url::form_urlencoded::parse(q.as_bytes()).into_owned());
    }
    let content_type = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let mime = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    match mime.as_str() {
        "application/x-www-form-urlencoded" => {
            form.fields
                .extend(url::form_urlencoded::parse(&body).into_owned());
        }
        "multipart/form-data" => {
            form.fields
                .extend(decode_multipart(content_type, body).await?);
        }
        "" if body.is_empty() => {}
        other => {
            return Err(format!(
                "unsupported content type `{other}`: send multipart/form-data or application/x-www-form-urlencoded"
            ));
        }
    }
    Ok(form)
}

/// Parses a multipart body. Field names are taken verbatim (Passteam variable names never hold
/// `"`, CR or LF, so no escape convention is needed).
pub async fn decode_multipart(
    content_type: &str,
    body: Bytes,
) -> Result<Vec<(String, String)>, String> {
    let boundary = multer::parse_boundary(content_type).map_err(|e| format!("multipart: {e}"))?;
    let stream = futures::stream::once(async move { Ok::<Bytes, std::io::Error>(body) });
    let mut multipart = multer::Multipart::new(stream, boundary);
    let mut out = Vec::new();
    while let Some(field) = multipart
        .next_field()
        .await
        .map_err(|e| format!("multipart: {e}"))?
    {
        let name = field
            .name()
            .map(str::to_owned)
            .ok_or("multipart: a part without a name")?;
        let value = field.text().await.map_err(|e| format!("multipart: {e}"))?;
        out.push((name, value));
    }
    Ok(out)
}
