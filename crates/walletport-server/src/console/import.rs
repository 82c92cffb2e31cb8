//! The import page: a CSV upload imported with the rules of `walletport sync --csv`
//! ([`crate::import::import_csv`], shared), answered with the counts and the bad rows by line.

use axum::extract::multipart::{Field, Multipart};
use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use maud::{Markup, html};

use super::layout::page;
use super::{ConsoleError, ConsoleResult, ConsoleState, Ctx, Nav, check_csrf};
use crate::import::{COLUMNS, ImportReport, MAX_LISTED_ERRORS, import_csv};

/// The largest CSV accepted (about 100,000 customers with a few columns each).
pub(crate) const MAX_UPLOAD: usize = 16 * 1024 * 1024;

/// The request body limit of the upload route: the file plus the form's framing.
pub(crate) fn body_limit() -> DefaultBodyLimit {
    DefaultBodyLimit::max(MAX_UPLOAD + 64 * 1024)
}

/// The upload form and the rules it applies.
fn form(ctx: &Ctx) -> Markup {
    html! {
        section.card aria-labelledby="upload" {
            h2 #upload { "Upload a CSV file" }
            form method="post" action="/console/import" enctype="multipart/form-data" class="import" {
                // First, so the token is checked before the file is read.
                input type="hidden" name="csrf" value=(ctx.csrf());
                div.field {
                    label for="file" { "CSV file (at most " (MAX_UPLOAD / (1024 * 1024)) " MiB)" }
                    input type="file" id="file" name="file" accept=".csv,text/csv" required aria-describedby="rules";
                }
                button type="submit" { "Import" }
            }
        }
        section aria-labelledby="rules" {
            h2 #rules { "Rules (the same as walletport sync --csv)" }
            ul {
                li { "The first line names the columns: " code { (COLUMNS.join(", ")) } "; " code { "phone" } " is required, the others are optional, in any order." }
                li { "Phones in international form (+420…); birthdays as YYYY-MM-DD or DD.MM.YYYY; numbers with a dot or a comma." }
                li { "A row updates the customer with that phone or creates them; the balance is set, bonus and discount percentages too. Each change reaches the vendor through the outbox." }
                li { "Importing the same file again changes nothing." }
                li { "A bad row is skipped and listed with its line number; the other rows are imported." }
            }
        }
    }
}

/// `GET /console/import`: the upload form.
pub(crate) async fn page_view(ctx: Ctx) -> ConsoleResult<Markup> {
    let body = html! {
        h1 { "Import customers" }
        (form(&ctx))
    };
    Ok(page(&ctx, Nav::Import, "Import", body))
}

/// A multipart field's text, at most `max` bytes.
async fn read_field(mut field: Field<'_>, max: usize) -> ConsoleResult<Vec<u8>> {
    let mut bytes = Vec::new();
    while let Some(chunk) = field.chunk().await.map_err(upload_error)? {
        if bytes.len() + chunk.len() > max {
            return Err(ConsoleError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!(
                    "The file is larger than {} MiB; split it and import the parts.",
                    MAX_UPLOAD / (1024 * 1024)
                ),
            ));
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}

/// A broken or oversized upload as an error page.
fn upload_error(e: axum::extract::multipart::MultipartError) -> ConsoleError {
    let status = e.status();
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        ConsoleError::new(
            status,
            format!(
                "The file is larger than {} MiB; split it and import the parts.",
                MAX_UPLOAD / (1024 * 1024)
            ),
        )
    } else {
        ConsoleError::new(
            StatusCode::BAD_REQUEST,
            format!("The upload could not be read: {}", e.body_text()),
        )
    }
}

/// The form's CSRF field (which must come first) checked, then the file's bytes.
async fn upload(ctx: &Ctx, mut multipart: Multipart) -> ConsoleResult<Vec<u8>> {
    let first = multipart.next_field().await.map_err(upload_error)?;
    let csrf = match first {
        Some(field) if field.name() == Some("csrf") => read_field(field, 1024).await?,
        _ => Vec::new(),
    };
    check_csrf(ctx, std::str::from_utf8(&csrf).unwrap_or_default())?;
    while let Some(field) = multipart.next_field().await.map_err(upload_error)? {
        if field.name() == Some("file") {
            return read_field(field, MAX_UPLOAD).await;
        }
    }
    Err(ConsoleError::new(
        StatusCode::BAD_REQUEST,
        "The form carried no file; choose a CSV file to import.",
    ))
}

/// What the import did: the counts, then the bad rows by line.
fn report_section(report: &ImportReport) -> Markup {
    html! {
        section.card aria-labelledby="result" {
            h2 #result { "Result" }
            dl {
                dt { "Rows read" } dd { (report.rows) }
                dt { "Imported (changed)" } dd { (report.imported) }
                dt { "Already up to date" } dd { (report.unchanged) }
                dt { "Bad rows (skipped)" } dd { (report.bad) }
            }
        }
        @if !report.errors.is_empty() {
            h2 #bad { "Bad rows" }
            @if report.bad > report.errors.len() as u64 {
                p.muted { "The first " (MAX_LISTED_ERRORS) " of " (report.bad) " bad rows:" }
            }
            table aria-describedby="bad" {
                thead { tr { th scope="col" class="num" { "Line" } th scope="col" { "What is wrong" } } }
                tbody {
                    @for bad in &report.errors {
                        tr { td.num { (bad.line) } td { (bad.error) } }
                    }
                }
            }
        }
    }
}

/// `POST /console/import`: checks the CSRF token, reads the file (bounded) and imports it.
pub(crate) async fn import(
    State(s): State<ConsoleState>,
    ctx: Ctx,
    multipart: Multipart,
) -> ConsoleResult<Markup> {
    let bytes = upload(&ctx, multipart).await?;
    let gw = &s.api.gw;
    let outcome = import_csv(gw.store.as_ref(), bytes.as_slice(), |_, _| {}).await;
    let body = match outcome {
        Ok(report) => {
            tracing::info!(
                rows = report.rows,
                imported = report.imported,
                bad = report.bad,
                "console CSV import"
            );
            html! {
                h1 { "Import customers" }
                p.flash.ok role="status" { "The file was imported: " (report.imported) " row(s) changed, " (report.bad) " bad row(s) skipped." }
                (report_section(&report))
                (form(&ctx))
            }
        }
        Err(e) => html! {
            h1 { "Import customers" }
            p.flash.error role="alert" { "Nothing was imported: " (super::error::public_message(&e)) }
            (form(&ctx))
        },
    };
    Ok(page(&ctx, Nav::Import, "Import", body))
}
