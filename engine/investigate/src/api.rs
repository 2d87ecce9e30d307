//! The HTTP API of the detection service and its web page.
//!
//! Every `/v1/detections` route needs `Authorization: Bearer KEY` (an API key made by
//! `abmark investigate key add`); a missing or wrong key gets 401 and a log line naming the
//! client and the route, never the key. `/`, `/healthz`, `/metrics` and `/v1/openapi.json`
//! are open. A submission's body is streamed to disk, counted against `max_upload_mb` (413),
//! and refused up front when the queue is full (429 with `Retry-After`).

// Helpers return the handler's early answer as `Err(Response)`: it is sent at once, so
// boxing it would only add an allocation.
#![allow(clippy::result_large_err)]

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{ConnectInfo, Path as UrlPath, Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Json, Router};
use http_body_util::BodyExt as _;
use serde::{Deserialize, Serialize};
use tokio::io::AsyncWriteExt as _;
use utoipa::OpenApi;

use abmark_delivery::ids::ContentId;
use abmark_edge::apikey::{self, ApiKeyEntry, AuthError};

use crate::store::{Inserted, Job, NewJob, Status};
use crate::worker::Shared;

/// Longest `Idempotency-Key` accepted.
const MAX_IDEMPOTENCY_KEY: usize = 200;
/// Seconds a client is asked to wait when the queue is full.
const RETRY_AFTER: &str = "30";
/// Jobs per page of `GET /v1/detections`, by default and at most.
const PAGE: u32 = 20;
const MAX_PAGE: u32 = 200;

/// The service's page (`GET /`).
const PAGE_HTML: &str = include_str!("page.html");

pub fn router(shared: Arc<Shared>) -> Router {
    // Every job route sits behind the key check; a route layer runs it before the handler, so
    // an unauthenticated upload is refused before a byte of its body is read.
    let jobs = Router::new()
        .route("/v1/detections", get(list).post(submit))
        .route("/v1/detections/{id}", get(show).delete(cancel))
        .route("/v1/detections/{id}/report.html", get(report_html))
        .route("/v1/detections/{id}/evidence.svg", get(evidence))
        .route_layer(middleware::from_fn_with_state(shared.clone(), require_api_key));
    Router::new()
        .route("/", get(page))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/metrics", get(metrics))
        .route("/v1/openapi.json", get(openapi))
        .merge(jobs)
        .with_state(shared)
}

/// A job as the API shows it.
#[derive(Serialize, utoipa::ToSchema)]
pub struct JobView {
    pub id: String,
    pub content: String,
    pub status: Status,
    /// What the detector is doing (`fingerprinting the reference`, `scoring the copy`).
    pub stage: Option<String>,
    /// 0 to 1, within the stage.
    pub progress: f64,
    /// RFC 3339 UTC.
    pub created_at: String,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    /// One line: why the job failed, or the verdict's sentence.
    pub reason: Option<String>,
    /// The detector's verdict (`named`, `no_session`, `no_match`, ...) when done.
    pub verdict: Option<String>,
    /// Times the job was started (more than 1 after a restart interrupted it).
    pub attempts: i64,
    pub upload_bytes: i64,
    /// When done: exactly the JSON `abmark detect --json` prints.
    #[schema(value_type = Option<Object>)]
    pub result: Option<serde_json::Value>,
    pub links: Links,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Links {
    #[serde(rename = "self")]
    pub this: String,
    pub report: Option<String>,
    pub evidence: Option<String>,
}

/// A page of jobs, newest first.
#[derive(Serialize, utoipa::ToSchema)]
pub struct JobList {
    pub jobs: Vec<JobView>,
    /// The next (older) page, if any.
    pub next: Option<String>,
}

/// An error answer: one line.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ApiError {
    pub error: String,
}

fn rfc3339(t: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(t)
        .ok()
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_default()
}

fn view(shared: &Shared, job: Job, with_result: bool) -> JobView {
    let this = format!("/v1/detections/{}", job.id);
    let done = job.status == Status::Done;
    let dir = shared.job_dir(&job.id);
    let result = (with_result && done)
        .then(|| std::fs::read(dir.join("report.json")).ok())
        .flatten()
        .and_then(|b| serde_json::from_slice(&b).ok());
    let evidence =
        (done && dir.join("evidence.svg").is_file()).then(|| format!("{this}/evidence.svg"));
    JobView {
        links: Links { report: done.then(|| format!("{this}/report.html")), evidence, this },
        id: job.id,
        content: job.content,
        status: job.status,
        stage: job.stage,
        progress: job.progress,
        created_at: rfc3339(job.created),
        started_at: job.started.map(rfc3339),
        finished_at: job.finished.map(rfc3339),
        reason: job.reason,
        verdict: job.verdict,
        attempts: job.attempts,
        upload_bytes: job.upload_bytes,
        result,
    }
}

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(ApiError { error: message.into() })).into_response()
}

fn store_error(e: crate::store::StoreError) -> Response {
    eprintln!("investigate: {e}");
    error(StatusCode::SERVICE_UNAVAILABLE, "job store unavailable")
}

/// Lets a request through with the caller's API key entry in its extensions, or answers 401
/// (logged with the client and the route, never the key).
async fn require_api_key(
    State(shared): State<Arc<Shared>>,
    mut request: Request,
    next: Next,
) -> Response {
    let presented = abmark_edge::serve::bearer(request.headers());
    match apikey::authenticate(presented, |hash| shared.store.api_key(hash)) {
        Ok(entry) => {
            request.extensions_mut().insert(entry);
            next.run(request).await
        }
        Err(AuthError::Store(e)) => store_error(e),
        Err(e) => {
            shared.metrics.refused_auth();
            let peer = request
                .extensions()
                .get::<ConnectInfo<SocketAddr>>()
                .map(|ConnectInfo(peer)| peer.ip().to_string())
                .unwrap_or_else(|| "an unknown address".into());
            eprintln!(
                "investigate: 401 {} {} from {peer}: {e}",
                request.method(),
                request.uri().path()
            );
            let mut r = error(StatusCode::UNAUTHORIZED, e.to_string());
            r.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            r
        }
    }
}

fn accepted(shared: &Shared, job: Job) -> Response {
    let location = format!("/v1/detections/{}", job.id);
    let mut r = (StatusCode::ACCEPTED, Json(view(shared, job, true))).into_response();
    if let Ok(v) = HeaderValue::from_str(&location) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    r
}

fn new_id() -> Result<String, Response> {
    let mut bytes = [0u8; 12];
    getrandom::fill(&mut bytes)
        .map_err(|_| error(StatusCode::SERVICE_UNAVAILABLE, "no random source"))?;
    Ok(hex::encode(bytes))
}

#[derive(Deserialize, utoipa::IntoParams)]
pub struct SubmitQuery {
    /// The content id of the title the copy is suspected to be (a `[[content]]` of the config).
    content: Option<String>,
}

/// Submit a copy.
#[utoipa::path(
    post,
    path = "/v1/detections",
    params(SubmitQuery, ("Idempotency-Key" = Option<String>, Header,
        description = "Sending the same key again returns the same job")),
    request_body(content = Vec<u8>, content_type = "application/octet-stream",
        description = "The copy, as a file FFmpeg can read"),
    responses(
        (status = 202, description = "Job made (or found by its Idempotency-Key)", body = JobView,
            headers(("Location" = String))),
        (status = 400, body = ApiError), (status = 401, body = ApiError),
        (status = 403, body = ApiError), (status = 413, body = ApiError),
        (status = 429, body = ApiError, headers(("Retry-After" = String)))),
    security(("bearer" = []))
)]
async fn submit(
    State(shared): State<Arc<Shared>>,
    Extension(who): Extension<ApiKeyEntry>,
    Query(q): Query<SubmitQuery>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let Some(content) = q.content else {
        return error(StatusCode::BAD_REQUEST, "missing ?content=ID");
    };
    if let Err(e) = ContentId::new(&content) {
        return error(StatusCode::BAD_REQUEST, format!("content: {e}"));
    }
    let idempotency = match headers.get("idempotency-key").map(|v| v.to_str()) {
        None => None,
        Some(Ok(k)) if !k.is_empty() && k.len() <= MAX_IDEMPOTENCY_KEY => Some(k.to_owned()),
        Some(_) => {
            return error(
                StatusCode::BAD_REQUEST,
                format!("Idempotency-Key: 1 to {MAX_IDEMPOTENCY_KEY} visible ASCII characters"),
            )
        }
    };
    if let Some(key) = &idempotency {
        match shared.store.by_idempotency_key(&who.name, key) {
            Ok(Some(job)) => return accepted(&shared, job),
            Ok(None) => {}
            Err(e) => return store_error(e),
        }
    }
    let id = match new_id() {
        Ok(id) => id,
        Err(r) => return r,
    };
    let record = |failed: Option<&str>, bytes: u64| {
        let job = NewJob {
            id: &id,
            content: &content,
            submitted_by: &who.name,
            idempotency_key: idempotency.as_deref(),
            upload_bytes: bytes,
            failed,
        };
        match shared.store.insert(&job) {
            Ok(Inserted::New(job)) | Ok(Inserted::Existing(job)) => Ok(job),
            Err(e) => Err(store_error(e)),
        }
    };
    if !shared.config.content.contains_key(&content) {
        let known: Vec<&str> = shared.config.content.keys().map(String::as_str).collect();
        let reason =
            format!("unknown content id {content:?} (this service checks: {})", known.join(", "));
        return match record(Some(&reason), 0) {
            Ok(job) => accepted(&shared, job),
            Err(r) => r,
        };
    }
    let id_of_content = ContentId::new(&content);
    if !id_of_content.as_ref().is_ok_and(|c| apikey::allows(&who, c)) {
        return error(
            StatusCode::FORBIDDEN,
            format!("this API key may not submit copies of {content}"),
        );
    }
    let limits = &shared.config.limits;
    match shared.store.active() {
        Ok(n) if n >= limits.queue_limit => {
            shared.metrics.refused_queue_full();
            let mut r = error(
                StatusCode::TOO_MANY_REQUESTS,
                format!("the queue is full ({n} jobs queued or running); try again later"),
            );
            r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static(RETRY_AFTER));
            return r;
        }
        Ok(_) => {}
        Err(e) => return store_error(e),
    }
    let max = limits.max_upload_bytes();
    let too_large = || {
        shared.metrics.refused_size();
        error(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the copy is larger than {} MiB", limits.max_upload_mb),
        )
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > max) {
        return too_large();
    }
    let dir = shared.job_dir(&id);
    let bytes = match receive(body, &dir, max).await {
        Ok(n) => n,
        Err(refusal) => {
            let _ = tokio::fs::remove_dir_all(&dir).await;
            return match refusal {
                Refusal::TooLarge => too_large(),
                Refusal::Body(m) => error(StatusCode::BAD_REQUEST, m),
                Refusal::Disk(m) => {
                    eprintln!("investigate: job {id}: {m}");
                    error(StatusCode::INSUFFICIENT_STORAGE, "cannot store the copy")
                }
            };
        }
    };
    let failed = (bytes == 0).then_some("the upload is empty: no copy to examine");
    let job = match record(failed, bytes) {
        Ok(job) => job,
        Err(r) => {
            let _ = tokio::fs::remove_dir_all(&dir).await;
            return r;
        }
    };
    if job.id != id {
        // The same Idempotency-Key won a race: its job stands, this upload goes.
        let _ = tokio::fs::remove_dir_all(&dir).await;
    } else {
        shared.metrics.submitted(bytes);
        shared.wake.notify_one();
    }
    accepted(&shared, job)
}

enum Refusal {
    TooLarge,
    Body(String),
    Disk(String),
}

/// Streams `body` into `dir/copy` (through `copy.part`, renamed when complete): its size.
async fn receive(mut body: Body, dir: &std::path::Path, max: u64) -> Result<u64, Refusal> {
    let disk = |e: std::io::Error| Refusal::Disk(e.to_string());
    tokio::fs::create_dir_all(dir).await.map_err(disk)?;
    let part = dir.join("copy.part");
    let mut file = tokio::fs::File::create(&part).await.map_err(disk)?;
    let mut total: u64 = 0;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| Refusal::Body(format!("upload interrupted: {e}")))?;
        if let Ok(data) = frame.into_data() {
            total += data.len() as u64;
            if total > max {
                return Err(Refusal::TooLarge);
            }
            file.write_all(&data).await.map_err(disk)?;
        }
    }
    file.sync_all().await.map_err(disk)?;
    drop(file);
    tokio::fs::rename(&part, dir.join("copy")).await.map_err(disk)?;
    Ok(total)
}

/// A job, with the detector's result when done.
#[utoipa::path(get, path = "/v1/detections/{id}",
    responses((status = 200, body = JobView), (status = 401, body = ApiError), (status = 404, body = ApiError)),
    security(("bearer" = [])))]
async fn show(State(shared): State<Arc<Shared>>, UrlPath(id): UrlPath<String>) -> Response {
    match shared.store.get(&id) {
        Ok(Some(job)) => Json(view(&shared, job, true)).into_response(),
        Ok(None) => error(StatusCode::NOT_FOUND, "no such job"),
        Err(e) => store_error(e),
    }
}

#[derive(Deserialize, utoipa::IntoParams)]
pub struct ListQuery {
    /// Jobs per page (default 20, at most 200).
    limit: Option<u32>,
    /// Only jobs older than this cursor (the `next` link gives it).
    before: Option<i64>,
}

/// The jobs, newest first, paged.
#[utoipa::path(get, path = "/v1/detections", params(ListQuery),
    responses((status = 200, body = JobList), (status = 401, body = ApiError)),
    security(("bearer" = [])))]
async fn list(State(shared): State<Arc<Shared>>, Query(q): Query<ListQuery>) -> Response {
    let limit = q.limit.unwrap_or(PAGE).clamp(1, MAX_PAGE);
    match shared.store.list(limit, q.before) {
        Ok(jobs) => {
            let next = (jobs.len() == limit as usize)
                .then(|| {
                    jobs.last().map(|j| format!("/v1/detections?limit={limit}&before={}", j.seq))
                })
                .flatten();
            let jobs = jobs.into_iter().map(|j| view(&shared, j, false)).collect();
            Json(JobList { jobs, next }).into_response()
        }
        Err(e) => store_error(e),
    }
}

/// Cancel a queued or running job (a running detection is stopped).
#[utoipa::path(delete, path = "/v1/detections/{id}",
    responses((status = 200, body = JobView), (status = 401, body = ApiError),
        (status = 404, body = ApiError), (status = 409, body = ApiError)),
    security(("bearer" = [])))]
async fn cancel(State(shared): State<Arc<Shared>>, UrlPath(id): UrlPath<String>) -> Response {
    match shared.store.cancel(&id) {
        Ok(Some(before)) if before.status.finished() => {
            error(StatusCode::CONFLICT, format!("the job is already {}", before.status.as_str()))
        }
        Ok(Some(before)) => {
            if before.status == Status::Running {
                shared.kill(&id);
            }
            match shared.store.get(&id) {
                Ok(Some(job)) => Json(view(&shared, job, false)).into_response(),
                Ok(None) => error(StatusCode::NOT_FOUND, "no such job"),
                Err(e) => store_error(e),
            }
        }
        Ok(None) => error(StatusCode::NOT_FOUND, "no such job"),
        Err(e) => store_error(e),
    }
}

/// A finished job's files: the report (JSON) and the plot, if the job is done.
fn done_job(shared: &Shared, id: &str) -> Result<Job, Response> {
    match shared.store.get(id) {
        Ok(Some(job)) if job.status == Status::Done => Ok(job),
        Ok(Some(job)) => Err(error(
            StatusCode::NOT_FOUND,
            format!("the job is {}: no report", job.status.as_str()),
        )),
        Ok(None) => Err(error(StatusCode::NOT_FOUND, "no such job")),
        Err(e) => Err(store_error(e)),
    }
}

/// Files served from the state directory: no script may run from them.
fn file_response(content_type: &'static str, body: String) -> Response {
    let mut r = body.into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// The report of a done job, as a page (the plot inlined).
#[utoipa::path(get, path = "/v1/detections/{id}/report.html",
    responses((status = 200, content_type = "text/html"), (status = 401, body = ApiError),
        (status = 404, body = ApiError)),
    security(("bearer" = [])))]
async fn report_html(State(shared): State<Arc<Shared>>, UrlPath(id): UrlPath<String>) -> Response {
    let job = match done_job(&shared, &id) {
        Ok(job) => job,
        Err(r) => return r,
    };
    let dir = shared.job_dir(&job.id);
    let report: serde_json::Value = match std::fs::read(dir.join("report.json"))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
    {
        Some(r) => r,
        None => return error(StatusCode::NOT_FOUND, "the report is gone"),
    };
    let svg = std::fs::read_to_string(dir.join("evidence.svg")).ok();
    let page = crate::report::html(&job.id, &job.content, &report, svg.as_deref());
    file_response("text/html; charset=utf-8", page)
}

/// The plot of a done job's per-segment scores against the accused session's bits.
#[utoipa::path(get, path = "/v1/detections/{id}/evidence.svg",
    responses((status = 200, content_type = "image/svg+xml"), (status = 401, body = ApiError),
        (status = 404, body = ApiError)),
    security(("bearer" = [])))]
async fn evidence(State(shared): State<Arc<Shared>>, UrlPath(id): UrlPath<String>) -> Response {
    let job = match done_job(&shared, &id) {
        Ok(job) => job,
        Err(r) => return r,
    };
    match std::fs::read_to_string(shared.job_dir(&job.id).join("evidence.svg")) {
        Ok(svg) => file_response("image/svg+xml", svg),
        Err(_) => error(StatusCode::NOT_FOUND, "no plot for this job"),
    }
}

async fn page() -> Response {
    let mut r = axum::response::Html(PAGE_HTML).into_response();
    r.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; \
             connect-src 'self'; frame-src 'self'; img-src 'self' data: blob:; frame-ancestors 'none'",
        ),
    );
    r
}

async fn metrics(State(shared): State<Arc<Shared>>) -> Response {
    let mut r = shared.metrics.render(&shared.store).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    r
}

#[derive(OpenApi)]
#[openapi(
    info(title = "abmark detection service", description = "Submit a suspected copy; get the session that leaked it, with its evidence."),
    paths(submit, show, list, cancel, report_html, evidence),
    components(schemas(JobView, Links, JobList, ApiError, Status)),
    modifiers(&BearerAuth)
)]
pub struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

async fn openapi() -> Response {
    match ApiDoc::openapi().to_json() {
        Ok(text) => ([(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], text)
            .into_response(),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}
