//! The import page: a CSV upload imported with the rules of `walletport sync --csv`
//! ([`crate::import::import_csv`], shared), in the background: the browser is sent to the
//! job's page, which shows the progress (reloading itself, no JavaScript needed) and then the
//! counts and the bad rows by line.

use std::collections::HashMap;
use std::io::Read;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use axum::Extension;
use axum::extract::multipart::{Field, Multipart};
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use rand::Rng as _;

use super::layout::{card, page};
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
        (card("upload", "Upload a CSV file", html! {
            form method="post" action="/console/import" enctype="multipart/form-data" class="import" {
                // First, so the token is checked before the file is read.
                input type="hidden" name="csrf" value=(ctx.csrf());
                div.field {
                    label for="file" { "CSV file (at most " (MAX_UPLOAD / (1024 * 1024)) " MiB)" }
                    input type="file" id="file" name="file" accept=".csv,text/csv" required aria-describedby="rules";
                }
                button type="submit" { "Import" }
            }
        }))
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
            return Err(too_large());
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}

/// The error page of an upload over [`MAX_UPLOAD`].
fn too_large() -> ConsoleError {
    ConsoleError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!(
            "The file is larger than {} MiB; split it and import the parts.",
            MAX_UPLOAD / (1024 * 1024)
        ),
    )
}

/// A broken or oversized upload as an error page.
fn upload_error(e: axum::extract::multipart::MultipartError) -> ConsoleError {
    let status = e.status();
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        too_large()
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
        // A token field that is not a token (too long, unreadable) is a bad token: 403.
        Some(field) if field.name() == Some("csrf") => read_field(field, 1024)
            .await
            .map_err(|_| ConsoleError::csrf())?,
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
        (card("result", "Result", html! {
            dl {
                dt { "Rows read" } dd { (report.rows) }
                dt { "Imported (changed)" } dd { (report.imported) }
                dt { "Already up to date" } dd { (report.unchanged) }
                dt { "Bad rows (skipped)" } dd { (report.bad) }
            }
        }))
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

/// Import jobs kept at once; the oldest finished one makes room for a new one.
const MAX_JOBS: usize = 16;

/// One upload being imported (or imported): how far it got, then what it did.
struct Job {
    /// The file's size.
    total: u64,
    /// Bytes the CSV reader has consumed so far.
    read: Arc<AtomicU64>,
    /// Rows written or refused so far.
    rows: Arc<AtomicU64>,
    /// The report, or why nothing was imported, once done.
    outcome: Mutex<Option<Result<ImportReport, String>>>,
    /// Order of creation, to evict the oldest.
    seq: u64,
}

impl Job {
    fn outcome(&self) -> Option<Result<ImportReport, String>> {
        self.outcome
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// The jobs by id, and the sequence number of the last one added.
#[derive(Default)]
struct JobTable {
    seq: u64,
    by_id: HashMap<String, Arc<Job>>,
}

/// The console's import jobs (a route extension, shared by the upload and the job page).
#[derive(Clone, Default)]
pub(crate) struct Jobs {
    table: Arc<Mutex<JobTable>>,
}

impl Jobs {
    /// Registers a job for a file of `total` bytes; `None` when [`MAX_JOBS`] are all running.
    fn add(&self, total: u64) -> Option<(String, Arc<Job>)> {
        let mut guard = self.table.lock().unwrap_or_else(PoisonError::into_inner);
        let JobTable { seq, by_id: map } = &mut *guard;
        if map.len() >= MAX_JOBS {
            let oldest_done = map
                .iter()
                .filter(|(_, j)| j.outcome().is_some())
                .min_by_key(|(_, j)| j.seq)
                .map(|(id, _)| id.clone());
            map.remove(&oldest_done?);
        }
        *seq += 1;
        let bytes: [u8; 16] = rand::rng().random();
        let id: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        let job = Arc::new(Job {
            total,
            read: Arc::default(),
            rows: Arc::default(),
            outcome: Mutex::new(None),
            seq: *seq,
        });
        map.insert(id.clone(), job.clone());
        Some((id, job))
    }

    fn get(&self, id: &str) -> Option<Arc<Job>> {
        self.table
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .by_id
            .get(id)
            .cloned()
    }
}

/// The layer that gives the console's routes this router's import jobs.
pub(crate) fn jobs_layer() -> Extension<Jobs> {
    Extension(Jobs::default())
}

/// A reader that counts what it hands out (the progress of the CSV reader).
struct Counting<R> {
    inner: R,
    read: Arc<AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// `POST /console/import`: checks the CSRF token, reads the file (bounded), starts the import
/// in the background and sends the browser to the job's page.
pub(crate) async fn import(
    State(s): State<ConsoleState>,
    Extension(jobs): Extension<Jobs>,
    ctx: Ctx,
    multipart: Multipart,
) -> ConsoleResult<Redirect> {
    let bytes = upload(&ctx, multipart).await?;
    let (id, job) = jobs.add(bytes.len() as u64).ok_or_else(|| {
        ConsoleError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "Too many imports are running; wait for one to finish, then try again.",
        )
    })?;
    let store = s.api.gw.store.clone();
    tokio::spawn(async move {
        let input = Counting {
            inner: bytes.as_slice(),
            read: job.read.clone(),
        };
        let rows = job.rows.clone();
        let outcome = import_csv(store.as_ref(), input, |_, _| {
            rows.fetch_add(1, Ordering::Relaxed);
        })
        .await;
        let outcome = match outcome {
            Ok(report) => {
                tracing::info!(
                    rows = report.rows,
                    imported = report.imported,
                    bad = report.bad,
                    "console CSV import"
                );
                Ok(report)
            }
            Err(e) => Err(super::error::public_message(&e)),
        };
        *job.outcome.lock().unwrap_or_else(PoisonError::into_inner) = Some(outcome);
    });
    Ok(Redirect::to(&format!("/console/import/jobs/{id}")))
}

/// `GET /console/import/jobs/{id}`: the progress (the page reloads itself every second while
/// the import runs), then the result.
pub(crate) async fn job_view(
    Extension(jobs): Extension<Jobs>,
    ctx: Ctx,
    Path(id): Path<String>,
) -> ConsoleResult<Response> {
    let job = jobs.get(&id).ok_or_else(|| {
        ConsoleError::new(
            StatusCode::NOT_FOUND,
            "There is no such import; finished imports are kept only for a while.",
        )
    })?;
    let body = match job.outcome() {
        None => {
            let read = job.read.load(Ordering::Relaxed).min(job.total);
            let percent = (read * 100).checked_div(job.total).unwrap_or(100);
            let body = html! {
                h1 { "Import customers" }
                p role="status" { "Importing… " (job.rows.load(Ordering::Relaxed)) " row(s) so far (" (percent) "% of the file)." }
                progress max=(job.total) value=(read) aria-label="Import progress" { (percent) "%" }
                p.muted { "This page reloads itself until the import is done. " a href={ "/console/import/jobs/" (id) } { "Reload now" } }
            };
            let refresh = (
                HeaderName::from_static("refresh"),
                HeaderValue::from_static("1"),
            );
            return Ok(([refresh], page(&ctx, Nav::Import, "Importing", body)).into_response());
        }
        Some(Ok(report)) => html! {
            h1 { "Import customers" }
            p.flash.ok role="status" { "The file was imported: " (report.imported) " row(s) changed, " (report.bad) " bad row(s) skipped." }
            (report_section(&report))
            (form(&ctx))
        },
        Some(Err(message)) => html! {
            h1 { "Import customers" }
            p.flash.error role="alert" { "Nothing was imported: " (message) }
            (form(&ctx))
        },
    };
    Ok(page(&ctx, Nav::Import, "Import", body).into_response())
}
