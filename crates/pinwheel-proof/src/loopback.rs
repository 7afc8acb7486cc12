//! A small HTTP/1.1 server on 127.0.0.1 (std only, a thread per
//! connection) for the tests and `cargo xtask bench`. It serves an
//! in-memory map of paths and/or a directory, negotiates PEP 691 JSON vs
//! PEP 503 HTML project pages on `Accept`, keeps connections alive, logs
//! every request, and misbehaves on purpose per path (see [`Fault`]): wrong
//! bytes, a body shorter than its `Content-Length`, an endless body, a drip
//! of one byte per interval, redirects, N failures before success, gzip.
//!
//! It is not a general web server: GET and HEAD only, no chunked requests,
//! no TLS. It binds 127.0.0.1 port 0 and never anything else.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use pinwheel_trust::hash::Sha256;

/// The PEP 691 JSON media type.
pub const JSON_TYPE: &str = "application/vnd.pypi.simple.v1+json";
/// The PEP 503 HTML media type.
pub const HTML_TYPE: &str = "text/html; charset=utf-8";

/// What a path serves.
#[derive(Clone, Debug)]
pub enum Content {
    Bytes(Arc<Vec<u8>>),
    File(PathBuf),
    /// A project page in both formats, chosen by the request's `Accept`:
    /// JSON when it names the PEP 691 type, HTML otherwise. `None` for a
    /// server that only speaks the other one.
    Page {
        json: Option<Arc<Vec<u8>>>,
        html: Option<Arc<Vec<u8>>>,
    },
}

/// How a path misbehaves.
#[derive(Clone, Debug, Default)]
pub enum Fault {
    #[default]
    None,
    /// The last byte is flipped (same length, wrong hash).
    WrongBytes,
    /// `Content-Length` claims `missing` more bytes than are sent, then the
    /// connection closes.
    Short { missing: u64 },
    /// No `Content-Length`; zeros until the client hangs up.
    Endless,
    /// The right headers, then one byte every `every`.
    Drip { every: Duration },
    /// Answers `status` with `Location: location`.
    Redirect { status: u16, location: String },
    /// Answers `status` the first `times` requests, then the content.
    FailFirst {
        status: u16,
        times: u32,
        seen: Arc<AtomicU32>,
    },
    /// The first `times` requests get half the body under the full
    /// `Content-Length`, then the connection closes; later ones succeed.
    ShortFirst { times: u32, seen: Arc<AtomicU32> },
    /// The content gzip-compressed, `Content-Encoding: gzip`.
    Gzip,
}

impl Fault {
    /// `status` for the first `times` requests, then success.
    pub fn fail_first(status: u16, times: u32) -> Fault {
        Fault::FailFirst {
            status,
            times,
            seen: Arc::new(AtomicU32::new(0)),
        }
    }

    /// A cut-off body for the first `times` requests, then success.
    pub fn short_first(times: u32) -> Fault {
        Fault::ShortFirst {
            times,
            seen: Arc::new(AtomicU32::new(0)),
        }
    }
}

/// One served path.
#[derive(Clone, Debug)]
pub struct Route {
    pub content: Content,
    pub content_type: String,
    pub fault: Fault,
    /// Extra response headers (e.g. a hostile `Content-Disposition`).
    pub headers: Vec<(String, String)>,
}

impl Route {
    pub fn bytes(body: impl Into<Vec<u8>>) -> Route {
        Route {
            content: Content::Bytes(Arc::new(body.into())),
            content_type: "application/octet-stream".to_owned(),
            fault: Fault::None,
            headers: Vec::new(),
        }
    }

    pub fn file(path: impl Into<PathBuf>) -> Route {
        Route {
            content: Content::File(path.into()),
            ..Route::bytes(Vec::new())
        }
    }

    pub fn page(json: Option<Vec<u8>>, html: Option<Vec<u8>>) -> Route {
        Route {
            content: Content::Page {
                json: json.map(Arc::new),
                html: html.map(Arc::new),
            },
            ..Route::bytes(Vec::new())
        }
    }

    pub fn with_fault(mut self, fault: Fault) -> Route {
        self.fault = fault;
        self
    }

    pub fn with_type(mut self, content_type: &str) -> Route {
        self.content_type = content_type.to_owned();
        self
    }

    pub fn with_header(mut self, name: &str, value: &str) -> Route {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }
}

/// One logged request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    pub method: String,
    pub path: String,
    /// Header names lowercased.
    pub headers: BTreeMap<String, String>,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }
}

#[derive(Debug, Default)]
struct State {
    routes: Mutex<BTreeMap<String, Route>>,
    dir: Mutex<Option<PathBuf>>,
    log: Mutex<Vec<Request>>,
    stop: AtomicBool,
}

/// A running server; stops when dropped.
pub struct Server {
    addr: SocketAddr,
    state: Arc<State>,
    accept: Option<JoinHandle<()>>,
}

impl Server {
    /// Starts a server on 127.0.0.1 with an OS-chosen port and no routes.
    pub fn start() -> std::io::Result<Server> {
        let listener = TcpListener::bind(("127.0.0.1", 0))?;
        let addr = listener.local_addr()?;
        let state = Arc::new(State::default());
        let st = Arc::clone(&state);
        let accept = std::thread::Builder::new()
            .name("loopback-accept".into())
            .spawn(move || {
                for stream in listener.incoming() {
                    if st.stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(stream) = stream else { continue };
                    let st = Arc::clone(&st);
                    let _ = std::thread::Builder::new()
                        .name("loopback-conn".into())
                        .spawn(move || {
                            let _ = serve_connection(stream, &st);
                        });
                }
            })?;
        Ok(Server {
            addr,
            state,
            accept: Some(accept),
        })
    }

    /// `http://127.0.0.1:PORT` (no trailing slash).
    pub fn origin(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The absolute URL of `path` (which starts with `/`).
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.origin(), path)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Serves `route` at `path` (exact match, query ignored).
    pub fn route(&self, path: &str, route: Route) {
        lock(&self.state.routes).insert(path.to_owned(), route);
    }

    /// Serves the files under `dir` for paths no route matches; a path
    /// ending in `/` serves its `index.html`.
    pub fn serve_dir(&self, dir: &Path) {
        *lock(&self.state.dir) = Some(dir.to_path_buf());
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<Request> {
        lock(&self.state.log).clone()
    }

    /// How many requests asked for `path`.
    pub fn hits(&self, path: &str) -> usize {
        lock(&self.state.log)
            .iter()
            .filter(|r| r.path == path)
            .count()
    }

    /// Serves a project at `{prefix}{name}/` in both page formats, with
    /// every file at `{files_prefix}{filename}`. Returns the page path.
    pub fn add_project(
        &self,
        prefix: &str,
        name: &str,
        files: &[PageFile],
        files_prefix: &str,
    ) -> String {
        for f in files {
            self.route(
                &format!("{files_prefix}{}", f.filename),
                Route::bytes(f.bytes.as_ref().clone()),
            );
        }
        let page = format!("{prefix}{name}/");
        self.route(
            &page,
            Route::page(
                Some(project_json(name, files, files_prefix)),
                Some(project_html(name, files, files_prefix)),
            ),
        );
        page
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.state.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop.
        let _ = TcpStream::connect(self.addr);
        if let Some(handle) = self.accept.take() {
            let _ = handle.join();
        }
    }
}

/// A file of a generated project page.
#[derive(Clone, Debug)]
pub struct PageFile {
    pub filename: String,
    /// What [`Server::add_project`] serves (empty for a listed-only file).
    pub bytes: Arc<Vec<u8>>,
    /// The digest the page announces.
    pub sha256: Sha256,
    /// The size the JSON page announces.
    pub size: Option<u64>,
    pub requires_python: Option<String>,
    /// `Some(reason)` marks the file yanked (an empty reason is allowed).
    pub yanked: Option<String>,
}

impl PageFile {
    pub fn new(filename: &str, bytes: Vec<u8>) -> PageFile {
        PageFile {
            filename: filename.to_owned(),
            sha256: Sha256::of(&bytes),
            size: Some(bytes.len() as u64),
            bytes: Arc::new(bytes),
            requires_python: None,
            yanked: None,
        }
    }

    /// A file the page lists with `sha256` but whose bytes we do not have
    /// (lookups only).
    pub fn listed(filename: &str, sha256: Sha256) -> PageFile {
        PageFile {
            filename: filename.to_owned(),
            bytes: Arc::new(Vec::new()),
            sha256,
            size: None,
            requires_python: None,
            yanked: None,
        }
    }
}

/// A PEP 691 JSON project page linking each file at `{files_prefix}{filename}`.
pub fn project_json(name: &str, files: &[PageFile], files_prefix: &str) -> Vec<u8> {
    let files: Vec<serde_json::Value> = files
        .iter()
        .map(|f| {
            let mut v = serde_json::json!({
                "filename": f.filename,
                "url": format!("{files_prefix}{}", f.filename),
                "hashes": {"sha256": f.sha256.hex()},
            });
            if let Some(size) = f.size {
                v["size"] = size.into();
            }
            if let Some(rp) = &f.requires_python {
                v["requires-python"] = rp.clone().into();
            }
            if let Some(reason) = &f.yanked {
                v["yanked"] = if reason.is_empty() {
                    true.into()
                } else {
                    reason.clone().into()
                };
            }
            v
        })
        .collect();
    let page = serde_json::json!({"meta": {"api-version": "1.1"}, "name": name, "files": files, "versions": []});
    let mut out = serde_json::to_vec(&page).unwrap_or_default();
    out.push(b'\n');
    out
}

/// A PEP 503 HTML project page linking each file at `{files_prefix}{filename}#sha256=…`.
pub fn project_html(name: &str, files: &[PageFile], files_prefix: &str) -> Vec<u8> {
    let mut out = format!(
        "<!DOCTYPE html>\n<html><head><title>Links for {}</title></head><body>\n",
        escape(name)
    );
    for f in files {
        let mut attrs = String::new();
        if let Some(rp) = &f.requires_python {
            attrs += &format!(" data-requires-python=\"{}\"", escape(rp));
        }
        if let Some(reason) = &f.yanked {
            attrs += &format!(" data-yanked=\"{}\"", escape(reason));
        }
        out += &format!(
            "<a href=\"{}{}#sha256={}\"{attrs}>{}</a><br/>\n",
            escape(files_prefix),
            escape(&f.filename),
            f.sha256.hex(),
            escape(&f.filename)
        );
    }
    out += "</body></html>\n";
    out.into_bytes()
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn serve_connection(stream: TcpStream, state: &State) -> std::io::Result<()> {
    stream.set_nodelay(true)?;
    stream.set_read_timeout(Some(Duration::from_millis(500)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut out = stream;
    loop {
        let Some((method, path, headers, http10)) = read_head(&mut reader, state)? else {
            return Ok(());
        };
        let accept = headers.get("accept").cloned();
        lock(&state.log).push(Request {
            method: method.clone(),
            path: path.clone(),
            headers: headers.clone(),
        });
        let close = http10
            || headers
                .get("connection")
                .is_some_and(|c| c.eq_ignore_ascii_case("close"));
        let keep = respond(&mut out, state, &method, &path, accept.as_deref())?;
        if close || !keep {
            return Ok(());
        }
    }
}

type Head = (String, String, BTreeMap<String, String>, bool);

/// Reads one request head; `None` when the client closed or we stop.
fn read_head(reader: &mut BufReader<TcpStream>, state: &State) -> std::io::Result<Option<Head>> {
    let mut lines = Vec::new();
    let mut size = 0usize;
    // A partial line survives a read timeout (read_line appends).
    let mut line = String::new();
    loop {
        match reader.read_line(&mut line) {
            Ok(0) => return Ok(None),
            Ok(n) => size += n,
            Err(err)
                if matches!(
                    err.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                if state.stop.load(Ordering::SeqCst) {
                    return Ok(None);
                }
                continue;
            }
            Err(err) => return Err(err),
        }
        if size > 64 * 1024 {
            return Ok(None);
        }
        let trimmed = std::mem::take(&mut line)
            .trim_end_matches(['\r', '\n'])
            .to_owned();
        if trimmed.is_empty() {
            if lines.is_empty() {
                continue;
            }
            break;
        }
        lines.push(trimmed);
    }
    let mut parts = lines[0].split(' ');
    let method = parts.next().unwrap_or_default().to_owned();
    let target = parts.next().unwrap_or_default();
    let http10 = parts.next() == Some("HTTP/1.0");
    let path = target
        .split(['?', '#'])
        .next()
        .unwrap_or_default()
        .to_owned();
    let headers = lines[1..]
        .iter()
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    Ok(Some((method, path, headers, http10)))
}

/// Writes the response; whether the connection may be kept.
fn respond(
    out: &mut TcpStream,
    state: &State,
    method: &str,
    path: &str,
    accept: Option<&str>,
) -> std::io::Result<bool> {
    if method != "GET" && method != "HEAD" {
        write_status(out, 405, "text/plain", b"method not allowed\n", &[])?;
        return Ok(true);
    }
    let head_only = method == "HEAD";
    let route = lock(&state.routes).get(path).cloned();
    let route = match route {
        Some(route) => route,
        None => match dir_route(state, path) {
            Some(route) => route,
            None => {
                write_status(out, 404, "text/plain", b"not found\n", &[])?;
                return Ok(true);
            }
        },
    };
    let extra: Vec<(String, String)> = route.headers.clone();
    let (mut content_type, body): (String, Body) = match &route.content {
        Content::Bytes(b) => (route.content_type.clone(), Body::Mem(Arc::clone(b))),
        Content::File(p) => match std::fs::File::open(p) {
            Ok(f) => (route.content_type.clone(), Body::File(f)),
            Err(_) => {
                write_status(out, 404, "text/plain", b"not found\n", &[])?;
                return Ok(true);
            }
        },
        Content::Page { json, html } => {
            let wants_json = accept.is_some_and(|a| a.contains(JSON_TYPE));
            match (wants_json, json, html) {
                (true, Some(j), _) | (false, Some(j), None) => {
                    (JSON_TYPE.to_owned(), Body::Mem(Arc::clone(j)))
                }
                (_, _, Some(h)) => (HTML_TYPE.to_owned(), Body::Mem(Arc::clone(h))),
                (_, None, None) => {
                    write_status(out, 404, "text/plain", b"not found\n", &[])?;
                    return Ok(true);
                }
            }
        }
    };
    if content_type.is_empty() {
        content_type = "application/octet-stream".to_owned();
    }
    match &route.fault {
        Fault::None => send(out, &content_type, body, &extra, head_only),
        Fault::WrongBytes => {
            let mut bytes = body.into_vec()?;
            if let Some(last) = bytes.last_mut() {
                *last ^= 0xff;
            }
            send(
                out,
                &content_type,
                Body::Mem(Arc::new(bytes)),
                &extra,
                head_only,
            )
        }
        Fault::Gzip => {
            let bytes = body.into_vec()?;
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            gz.write_all(&bytes)?;
            let mut extra = extra;
            extra.push(("Content-Encoding".into(), "gzip".into()));
            send(
                out,
                &content_type,
                Body::Mem(Arc::new(gz.finish()?)),
                &extra,
                head_only,
            )
        }
        Fault::Short { missing } => {
            let bytes = body.into_vec()?;
            write_head(
                out,
                200,
                &content_type,
                Some(bytes.len() as u64 + missing),
                &extra,
                true,
            )?;
            out.write_all(&bytes)?;
            out.flush()?;
            Ok(false)
        }
        Fault::Endless => {
            write_head(out, 200, &content_type, None, &extra, true)?;
            let chunk = vec![0u8; 64 * 1024];
            while !state.stop.load(Ordering::SeqCst) {
                if out.write_all(&chunk).is_err() {
                    break;
                }
            }
            Ok(false)
        }
        Fault::Drip { every } => {
            let bytes = body.into_vec()?;
            write_head(
                out,
                200,
                &content_type,
                Some(bytes.len() as u64),
                &extra,
                true,
            )?;
            for b in bytes {
                if state.stop.load(Ordering::SeqCst)
                    || out.write_all(&[b]).and_then(|()| out.flush()).is_err()
                {
                    break;
                }
                std::thread::sleep(*every);
            }
            Ok(false)
        }
        Fault::Redirect { status, location } => {
            let mut extra = extra;
            extra.push(("Location".into(), location.clone()));
            write_status(out, *status, "text/plain", b"moved\n", &extra)?;
            Ok(true)
        }
        Fault::ShortFirst { times, seen } => {
            if seen.fetch_add(1, Ordering::SeqCst) < *times {
                let bytes = body.into_vec()?;
                write_head(
                    out,
                    200,
                    &content_type,
                    Some(bytes.len() as u64),
                    &extra,
                    true,
                )?;
                out.write_all(&bytes[..bytes.len() / 2])?;
                out.flush()?;
                Ok(false)
            } else {
                send(out, &content_type, body, &extra, head_only)
            }
        }
        Fault::FailFirst {
            status,
            times,
            seen,
        } => {
            if seen.fetch_add(1, Ordering::SeqCst) < *times {
                let mut extra = extra;
                if *status == 429 {
                    extra.push(("Retry-After".into(), "0".into()));
                }
                write_status(out, *status, "text/plain", b"try again\n", &extra)?;
                Ok(true)
            } else {
                send(out, &content_type, body, &extra, head_only)
            }
        }
    }
}

enum Body {
    Mem(Arc<Vec<u8>>),
    File(std::fs::File),
}

impl Body {
    fn into_vec(self) -> std::io::Result<Vec<u8>> {
        match self {
            Body::Mem(b) => Ok(b.as_ref().clone()),
            Body::File(mut f) => {
                let mut v = Vec::new();
                f.read_to_end(&mut v)?;
                Ok(v)
            }
        }
    }
}

fn dir_route(state: &State, path: &str) -> Option<Route> {
    let dir = lock(&state.dir).clone()?;
    let rel = path.strip_prefix('/')?;
    let mut full = dir;
    for seg in rel.split('/').filter(|s| !s.is_empty()) {
        if seg == "." || seg == ".." || seg.contains('\\') || seg.contains('%') {
            return None;
        }
        full.push(seg);
    }
    if path.ends_with('/') {
        full.push("index.html");
    }
    if !full.is_file() {
        return None;
    }
    let content_type = match full.extension().and_then(|e| e.to_str()) {
        Some("html") => HTML_TYPE,
        Some("json") => JSON_TYPE,
        Some("txt") | Some("asc") => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    };
    Some(Route::file(full).with_type(content_type))
}

fn send(
    out: &mut TcpStream,
    content_type: &str,
    body: Body,
    extra: &[(String, String)],
    head_only: bool,
) -> std::io::Result<bool> {
    match body {
        Body::Mem(bytes) => {
            write_head(
                out,
                200,
                content_type,
                Some(bytes.len() as u64),
                extra,
                false,
            )?;
            if !head_only {
                out.write_all(&bytes)?;
            }
        }
        Body::File(mut file) => {
            let len = file.metadata()?.len();
            write_head(out, 200, content_type, Some(len), extra, false)?;
            if !head_only {
                std::io::copy(&mut file, out)?;
            }
        }
    }
    out.flush()?;
    Ok(true)
}

fn write_status(
    out: &mut TcpStream,
    status: u16,
    content_type: &str,
    body: &[u8],
    extra: &[(String, String)],
) -> std::io::Result<()> {
    write_head(
        out,
        status,
        content_type,
        Some(body.len() as u64),
        extra,
        false,
    )?;
    out.write_all(body)?;
    out.flush()
}

fn write_head(
    out: &mut TcpStream,
    status: u16,
    content_type: &str,
    len: Option<u64>,
    extra: &[(String, String)],
    close: bool,
) -> std::io::Result<()> {
    let reason = match status {
        200 => "OK",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        404 => "Not Found",
        405 => "Method Not Allowed",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "Status",
    };
    let mut head = format!("HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\n");
    if let Some(len) = len {
        head += &format!("Content-Length: {len}\r\n");
    }
    for (k, v) in extra {
        head += &format!("{k}: {v}\r\n");
    }
    head += if close || len.is_none() {
        "Connection: close\r\n\r\n"
    } else {
        "\r\n"
    };
    out.write_all(head.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(server: &Server, path: &str, accept: &str) -> String {
        let mut s = TcpStream::connect(server.addr()).unwrap();
        write!(
            s,
            "GET {path} HTTP/1.1\r\nHost: x\r\nAccept: {accept}\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        out
    }

    #[test]
    fn serves_routes_dir_and_negotiates() {
        let server = Server::start().unwrap();
        server.route("/a", Route::bytes(b"hello".to_vec()));
        server.add_project(
            "/simple/",
            "demo",
            &[PageFile::new("demo-1.0.tar.gz", b"x".to_vec())],
            "/files/",
        );
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("simple/p")).unwrap();
        std::fs::write(dir.path().join("simple/p/index.html"), "<a>").unwrap();
        server.serve_dir(dir.path());

        let a = get(&server, "/a", "*/*");
        assert!(
            a.starts_with("HTTP/1.1 200") && a.ends_with("\r\n\r\nhello"),
            "{a}"
        );
        let json = get(&server, "/simple/demo/", JSON_TYPE);
        assert!(
            json.contains(JSON_TYPE) && json.contains("\"demo-1.0.tar.gz\""),
            "{json}"
        );
        let html = get(&server, "/simple/demo/", "text/html");
        assert!(
            html.contains("text/html") && html.contains("#sha256="),
            "{html}"
        );
        assert!(get(&server, "/simple/p/", "*/*").ends_with("<a>"));
        assert!(get(&server, "/../etc/passwd", "*/*").starts_with("HTTP/1.1 404"));
        assert_eq!(server.hits("/simple/demo/"), 2);
    }

    #[test]
    fn fail_first_then_ok() {
        let server = Server::start().unwrap();
        server.route(
            "/f",
            Route::bytes(b"ok".to_vec()).with_fault(Fault::fail_first(503, 2)),
        );
        assert!(get(&server, "/f", "*/*").starts_with("HTTP/1.1 503"));
        assert!(get(&server, "/f", "*/*").starts_with("HTTP/1.1 503"));
        assert!(get(&server, "/f", "*/*").ends_with("ok"));
    }
}
