//! The one HTTP client: a ureq agent built from `config::Index`, with the
//! policy every download of pinwheel follows.
//!
//! - Timeouts: connect, per read, and an overall deadline per request that
//!   our own read loop enforces (a server that drips one byte a minute is cut
//!   off at the deadline, not after the last byte).
//! - Retries with exponential backoff for transient failures only: connection
//!   errors, stalled reads, a body cut short, 5xx and 429 (`Retry-After`
//!   honoured up to the backoff ceiling). Never for a hash mismatch: hashes
//!   are checked by the caller, after the bytes are in.
//! - Redirects are followed here, not by ureq: only to `https` URLs on the
//!   allowed hosts (`index.allowed-hosts` plus the index's own host). A plain
//!   `http://127.0.0.1:PORT` index (tests, `cargo xtask bench`) may also send
//!   us anywhere within its own origin. Every URL we request, redirected or
//!   not, passes the same check.
//! - `Accept-Encoding: identity`, and ureq's decoding is compiled out: the
//!   bytes we hash are the bytes the server sent, whatever `Content-Encoding`
//!   says. `Content-Disposition` is never read.
//! - Size caps: a body is aborted as soon as it passes the cap or the size
//!   the index recorded; a body shorter than its `Content-Length` is an
//!   error.

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use url::Url;

use crate::config;

/// `Accept` for a PEP 691 JSON project page, HTML (PEP 503) as fallback.
pub const ACCEPT_SIMPLE: &str =
    "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.01";

/// Timeouts, retries and caps. [`Options::default`] is what commands use;
/// tests shrink the durations.
#[derive(Debug, Clone)]
pub struct Options {
    /// Resolving and connecting (TLS handshake included).
    pub connect_timeout: Duration,
    /// Longest wait for any single read from the socket.
    pub read_timeout: Duration,
    /// Overall deadline of one request, headers and body, when nothing is
    /// known about its size; a known size adds `size / min_rate`.
    pub deadline: Duration,
    /// Bytes per second a download of known size is allowed to sink to.
    pub min_rate: u64,
    /// Attempts after the first, for transient failures.
    pub retries: u32,
    /// First pause between attempts; doubles each time.
    pub backoff: Duration,
    /// Longest pause between attempts.
    pub max_backoff: Duration,
    /// Redirects followed per request.
    pub max_redirects: u32,
    /// Largest index page (JSON or HTML) we read.
    pub page_cap: u64,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            connect_timeout: Duration::from_secs(15),
            read_timeout: Duration::from_secs(30),
            deadline: Duration::from_secs(120),
            min_rate: 64 * 1024,
            retries: 4,
            backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(10),
            max_redirects: 5,
            page_cap: 64 * 1024 * 1024,
        }
    }
}

/// Why a request failed. [`HttpError::is_transient`] decides retries.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("{url}: refused: {reason}")]
    Refused { url: String, reason: String },
    #[error("{url}: refusing redirect to {to}: {reason}")]
    Redirect {
        url: String,
        to: String,
        reason: String,
    },
    #[error("{url}: more than {max} redirects")]
    TooManyRedirects { url: String, max: u32 },
    #[error("{url}: server answered HTTP {status}")]
    Status {
        url: String,
        status: u16,
        retry_after: Option<Duration>,
    },
    #[error("{url}: body is larger than the cap of {cap} bytes; aborted")]
    TooLarge { url: String, cap: u64 },
    #[error("{url}: body is larger than the {expected} bytes the index recorded; aborted")]
    LargerThanRecorded { url: String, expected: u64 },
    #[error("{url}: body ended after {got} of {expected} bytes (Content-Length)")]
    Short {
        url: String,
        got: u64,
        expected: u64,
    },
    #[error("{url}: no complete answer within the deadline of {secs:.1} s; aborted")]
    Deadline { url: String, secs: f64 },
    // The cause is part of the message and not also a `source`: a chain
    // printed with `{:#}` would say it twice.
    #[error("{url}: {error}")]
    Transport { url: String, error: ureq::Error },
    #[error("{url}: writing the body: {error}")]
    Sink { url: String, error: std::io::Error },
    #[error("{url}: interrupted")]
    Cancelled { url: String },
}

impl HttpError {
    /// Whether another attempt may succeed: connection trouble, a stalled
    /// or cut-off transfer, 5xx and 429. Policy refusals, caps, deadlines
    /// and 4xx are final.
    pub fn is_transient(&self) -> bool {
        match self {
            HttpError::Status { status, .. } => *status == 429 || *status >= 500,
            HttpError::Short { .. } => true,
            HttpError::Transport { error, .. } => transient_transport(error),
            _ => false,
        }
    }
}

fn transient_transport(err: &ureq::Error) -> bool {
    use std::io::ErrorKind as K;
    match err {
        ureq::Error::Io(io) => matches!(
            io.kind(),
            K::ConnectionRefused
                | K::ConnectionReset
                | K::ConnectionAborted
                | K::NotConnected
                | K::BrokenPipe
                | K::UnexpectedEof
                | K::TimedOut
                | K::WouldBlock
                | K::Interrupted
        ),
        ureq::Error::Timeout(ureq::Timeout::Global) => false,
        ureq::Error::Timeout(_) => true,
        ureq::Error::ConnectionFailed | ureq::Error::HostNotFound => true,
        _ => false,
    }
}

/// Where a body goes. A retry starts the body again, so a sink must be able
/// to forget what it was given.
pub trait Sink: Write {
    /// Drops everything written so far.
    fn reset(&mut self) -> std::io::Result<()>;
}

impl Sink for Vec<u8> {
    fn reset(&mut self) -> std::io::Result<()> {
        self.clear();
        Ok(())
    }
}

/// How big a body may get.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Hard cap, whatever the server or the index claims.
    pub cap: u64,
    /// The size the index recorded for the file, when it did.
    pub expected: Option<u64>,
}

/// What a progress callback hears.
#[derive(Debug)]
pub enum Event<'a> {
    /// An attempt begins; `Content-Length` when the server sent one.
    Started { content_length: Option<u64> },
    /// That many more bytes arrived.
    Bytes(u64),
    /// An attempt failed and another follows after `pause`.
    Retrying {
        error: &'a HttpError,
        pause: Duration,
    },
}

/// A completed response.
#[derive(Debug, Clone)]
pub struct Fetched {
    /// The URL that answered, after redirects.
    pub url: Url,
    pub content_type: Option<String>,
    pub content_encoding: Option<String>,
    /// Bytes written to the sink.
    pub len: u64,
}

/// An index page read into memory.
#[derive(Debug, Clone)]
pub struct Page {
    pub url: Url,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
}

/// The agent plus the policy. Cheap to share between threads by reference.
#[derive(Debug, Clone)]
pub struct Client {
    agent: ureq::Agent,
    policy: Policy,
    options: Options,
    cancel: Option<Arc<AtomicBool>>,
}

#[derive(Debug, Clone)]
struct Policy {
    allowed_hosts: BTreeSet<String>,
    /// `host:port` of a plain-http loopback index.
    loopback: Option<(String, u16)>,
}

impl Policy {
    fn check(&self, url: &Url) -> Result<(), String> {
        let host = url.host_str().unwrap_or_default().to_ascii_lowercase();
        if let Some((lo_host, lo_port)) = &self.loopback {
            if matches!(url.scheme(), "http" | "https")
                && &host == lo_host
                && url.port_or_known_default() == Some(*lo_port)
            {
                return Ok(());
            }
        }
        if url.scheme() != "https" {
            return Err(format!("{} is not https", url.scheme()));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err("credentials in URLs are not allowed".to_owned());
        }
        if !self.allowed_hosts.contains(&host) {
            let allowed: Vec<&str> = self.allowed_hosts.iter().map(String::as_str).collect();
            return Err(format!(
                "host {host:?} is not an allowed host ({}); add it to index.allowed-hosts in packaging/pinwheel.toml if it belongs to the index",
                allowed.join(", ")
            ));
        }
        Ok(())
    }
}

impl Client {
    /// The client for the configured index, with default options.
    pub fn new(index: &config::Index) -> anyhow::Result<Client> {
        Client::with_options(&index.url, &index.allowed_hosts, Options::default())
    }

    /// A client whose requests may go to `base`'s origin (when it is https,
    /// or plain http on 127.0.0.1) and to https URLs on `allowed_hosts`.
    pub fn with_options(
        base: &str,
        allowed_hosts: &[String],
        options: Options,
    ) -> anyhow::Result<Client> {
        let base_url =
            Url::parse(base).map_err(|err| anyhow::anyhow!("index url {base:?}: {err}"))?;
        let mut hosts: BTreeSet<String> = allowed_hosts
            .iter()
            .map(|h| h.to_ascii_lowercase())
            .collect();
        let host = base_url.host_str().unwrap_or_default().to_ascii_lowercase();
        let loopback = match base_url.scheme() {
            "https" if !host.is_empty() => {
                hosts.insert(host.clone());
                None
            }
            "http" | "https" if host == "127.0.0.1" => {
                base_url.port_or_known_default().map(|p| (host.clone(), p))
            }
            _ => anyhow::bail!(
                "index url {base:?}: must be https (or plain http on 127.0.0.1 for tests)"
            ),
        };
        let mut builder = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .max_redirects_will_error(false)
            .accept_encoding("identity")
            .user_agent(format!("pinwheel/{}", env!("CARGO_PKG_VERSION")))
            .timeout_resolve(Some(options.connect_timeout))
            .timeout_connect(Some(options.connect_timeout))
            .timeout_per_read(Some(options.read_timeout))
            .max_idle_connections_per_host(16);
        if loopback.is_some() {
            // A loopback index is never reached through a proxy.
            builder = builder.proxy(None);
        }
        if let Some(roots) = roots_from_env()? {
            builder = builder.tls_config(
                ureq::tls::TlsConfig::builder()
                    .root_certs(ureq::tls::RootCerts::Specific(std::sync::Arc::new(roots)))
                    .build(),
            );
        }
        let agent = builder.build().new_agent();
        Ok(Client {
            agent,
            policy: Policy {
                allowed_hosts: hosts,
                loopback,
            },
            options,
            cancel: None,
        })
    }

    /// Makes every transfer stop with [`HttpError::Cancelled`] once `flag`
    /// is set (e.g. by a SIGINT handler).
    pub fn with_cancel(mut self, flag: Arc<AtomicBool>) -> Client {
        self.cancel = Some(flag);
        self
    }

    pub fn options(&self) -> &Options {
        &self.options
    }

    /// Whether the policy lets us request `url`; the reason when not.
    pub fn check_url(&self, url: &Url) -> Result<(), String> {
        self.policy.check(url)
    }

    fn cancelled(&self) -> bool {
        self.cancel
            .as_ref()
            .is_some_and(|c| c.load(Ordering::Relaxed))
    }

    /// The overall deadline of one attempt at a body of `size` bytes.
    pub fn deadline_for(&self, size: Option<u64>) -> Duration {
        let extra = size.map_or(0.0, |s| s as f64 / self.options.min_rate.max(1) as f64);
        self.options.deadline + Duration::from_secs_f64(extra)
    }

    /// Reads a page (index page, `sha256sums.txt`, …) into memory, capped
    /// at `Options::page_cap`. A gzip body that a server sends despite our
    /// `identity` is inflated here, under the same cap.
    pub fn get_page(&self, url: &Url, accept: Option<&str>) -> Result<Page, HttpError> {
        self.get_page_capped(url, accept, self.options.page_cap)
    }

    /// [`Client::get_page`] with an explicit cap.
    pub fn get_page_capped(
        &self,
        url: &Url,
        accept: Option<&str>,
        cap: u64,
    ) -> Result<Page, HttpError> {
        let mut body = Vec::new();
        let fetched = self.get(
            url,
            accept,
            Limits {
                cap,
                expected: None,
            },
            &mut body,
            &mut |_| {},
        )?;
        let gzip = fetched
            .content_encoding
            .as_deref()
            .is_some_and(|e| e.eq_ignore_ascii_case("gzip"));
        if gzip {
            let mut inflated = Vec::new();
            let mut reader = flate2::read::GzDecoder::new(body.as_slice()).take(cap + 1);
            reader
                .read_to_end(&mut inflated)
                .map_err(|error| HttpError::Sink {
                    url: fetched.url.to_string(),
                    error,
                })?;
            if inflated.len() as u64 > cap {
                return Err(HttpError::TooLarge {
                    url: fetched.url.to_string(),
                    cap,
                });
            }
            body = inflated;
        }
        Ok(Page {
            url: fetched.url,
            content_type: fetched.content_type,
            body,
        })
    }

    /// GETs `url` into `sink`, following allowed redirects, retrying
    /// transient failures (the sink is reset before each attempt).
    pub fn get(
        &self,
        url: &Url,
        accept: Option<&str>,
        limits: Limits,
        sink: &mut dyn Sink,
        progress: &mut dyn FnMut(Event<'_>),
    ) -> Result<Fetched, HttpError> {
        let mut attempt = 0u32;
        loop {
            sink.reset().map_err(|error| HttpError::Sink {
                url: url.to_string(),
                error,
            })?;
            let err = match self.attempt(url, accept, limits, sink, progress) {
                Ok(fetched) => return Ok(fetched),
                Err(err) => err,
            };
            if !err.is_transient() || attempt >= self.options.retries {
                return Err(err);
            }
            let mut pause = self.options.backoff.saturating_mul(1 << attempt.min(16));
            if let HttpError::Status {
                retry_after: Some(after),
                ..
            } = &err
            {
                pause = pause.max(*after);
            }
            pause = pause.min(self.options.max_backoff);
            progress(Event::Retrying { error: &err, pause });
            self.sleep(pause, url)?;
            attempt += 1;
        }
    }

    fn sleep(&self, pause: Duration, url: &Url) -> Result<(), HttpError> {
        let end = Instant::now() + pause;
        loop {
            if self.cancelled() {
                return Err(HttpError::Cancelled {
                    url: url.to_string(),
                });
            }
            let now = Instant::now();
            if now >= end {
                return Ok(());
            }
            std::thread::sleep((end - now).min(Duration::from_millis(100)));
        }
    }

    fn attempt(
        &self,
        url: &Url,
        accept: Option<&str>,
        limits: Limits,
        sink: &mut dyn Sink,
        progress: &mut dyn FnMut(Event<'_>),
    ) -> Result<Fetched, HttpError> {
        let budget = self.deadline_for(limits.expected);
        let started = Instant::now();
        let deadline = started + budget;
        let deadline_err = |u: &Url| HttpError::Deadline {
            url: u.to_string(),
            secs: budget.as_secs_f64(),
        };
        self.policy
            .check(url)
            .map_err(|reason| HttpError::Refused {
                url: url.to_string(),
                reason,
            })?;
        let mut current = url.clone();
        let mut hops = 0u32;
        let response = loop {
            if self.cancelled() {
                return Err(HttpError::Cancelled {
                    url: current.to_string(),
                });
            }
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                return Err(deadline_err(&current));
            }
            let mut request = self.agent.get(current.as_str());
            if let Some(accept) = accept {
                request = request.header("Accept", accept);
            }
            let response = request
                .config()
                .timeout_global(Some(remaining))
                .build()
                .call()
                .map_err(|source| transport(&current, source, deadline, &deadline_err))?;
            let status = response.status().as_u16();
            if matches!(status, 301 | 302 | 303 | 307 | 308) {
                let to = header(&response, "location").unwrap_or_default();
                let next = current.join(&to).map_err(|err| HttpError::Redirect {
                    url: current.to_string(),
                    to: to.clone(),
                    reason: format!("bad Location: {err}"),
                })?;
                self.policy
                    .check(&next)
                    .map_err(|reason| HttpError::Redirect {
                        url: current.to_string(),
                        to: next.to_string(),
                        reason,
                    })?;
                hops += 1;
                if hops > self.options.max_redirects {
                    return Err(HttpError::TooManyRedirects {
                        url: url.to_string(),
                        max: self.options.max_redirects,
                    });
                }
                current = next;
                continue;
            }
            if status != 200 {
                let retry_after = header(&response, "retry-after")
                    .and_then(|v| v.trim().parse::<u64>().ok())
                    .map(Duration::from_secs);
                return Err(HttpError::Status {
                    url: current.to_string(),
                    status,
                    retry_after,
                });
            }
            break response;
        };
        let u = current.to_string();
        let content_length =
            header(&response, "content-length").and_then(|v| v.trim().parse::<u64>().ok());
        if let Some(len) = content_length {
            if len > limits.cap {
                return Err(HttpError::TooLarge {
                    url: u,
                    cap: limits.cap,
                });
            }
            if let Some(expected) = limits.expected.filter(|&e| len > e) {
                return Err(HttpError::LargerThanRecorded { url: u, expected });
            }
        }
        let content_type = header(&response, "content-type");
        let content_encoding = header(&response, "content-encoding");
        progress(Event::Started { content_length });
        let limit = limits.expected.map_or(limits.cap, |e| e.min(limits.cap));
        let mut reader = response.into_body().into_reader();
        let mut buf = vec![0u8; 64 * 1024];
        let mut total = 0u64;
        loop {
            if self.cancelled() {
                return Err(HttpError::Cancelled { url: u });
            }
            if Instant::now() >= deadline {
                return Err(deadline_err(&current));
            }
            let n = match reader.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(err) if err.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(err) => {
                    let err = ureq::Error::from(err);
                    if let Some(expected) = content_length.filter(|&l| total < l) {
                        if matches!(&err, ureq::Error::Io(io) if io.kind() == std::io::ErrorKind::UnexpectedEof)
                            || matches!(&err, ureq::Error::Protocol(_))
                        {
                            return Err(HttpError::Short {
                                url: u,
                                got: total,
                                expected,
                            });
                        }
                    }
                    return Err(transport(&current, err, deadline, &deadline_err));
                }
            };
            let n64 = n as u64;
            if total + n64 > limit {
                return Err(match limits.expected {
                    Some(expected) if expected <= limits.cap => {
                        HttpError::LargerThanRecorded { url: u, expected }
                    }
                    _ => HttpError::TooLarge {
                        url: u,
                        cap: limits.cap,
                    },
                });
            }
            sink.write_all(&buf[..n]).map_err(|error| HttpError::Sink {
                url: u.clone(),
                error,
            })?;
            total += n64;
            progress(Event::Bytes(n64));
        }
        if let Some(expected) = content_length.filter(|&l| total < l) {
            return Err(HttpError::Short {
                url: u,
                got: total,
                expected,
            });
        }
        sink.flush().map_err(|error| HttpError::Sink {
            url: u.clone(),
            error,
        })?;
        Ok(Fetched {
            url: current,
            content_type,
            content_encoding,
            len: total,
        })
    }
}

fn header(response: &ureq::http::Response<ureq::Body>, name: &str) -> Option<String> {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// A ureq error as ours; a timeout at or past the deadline is the deadline.
fn transport(
    url: &Url,
    source: ureq::Error,
    deadline: Instant,
    deadline_err: &dyn Fn(&Url) -> HttpError,
) -> HttpError {
    let timed_out = matches!(&source, ureq::Error::Timeout(_))
        || matches!(&source, ureq::Error::Io(io) if io.kind() == std::io::ErrorKind::TimedOut);
    if matches!(&source, ureq::Error::Timeout(ureq::Timeout::Global))
        || (timed_out && Instant::now() >= deadline)
    {
        return deadline_err(url);
    }
    HttpError::Transport {
        url: url.to_string(),
        error: source,
    }
}

/// TLS roots: Mozilla's, built in, unless `SSL_CERT_FILE` names a PEM
/// bundle (the OpenSSL convention that pip, uv and curl honour, needed
/// behind a TLS-inspecting proxy). Every file is hash-pinned either way, so
/// the roots guard availability and metadata, not what gets installed.
fn roots_from_env() -> anyhow::Result<Option<Vec<ureq::tls::Certificate<'static>>>> {
    let Some(path) = std::env::var_os("SSL_CERT_FILE") else {
        return Ok(None);
    };
    let pem = anyhow::Context::context(fs_err::read(&path), "SSL_CERT_FILE")?;
    let mut roots = Vec::new();
    for item in ureq::tls::parse_pem(&pem) {
        match item {
            Ok(ureq::tls::PemItem::Certificate(cert)) => roots.push(cert),
            Ok(_) => {}
            Err(err) => anyhow::bail!(
                "SSL_CERT_FILE {}: {err}",
                std::path::Path::new(&path).display()
            ),
        }
    }
    if roots.is_empty() {
        anyhow::bail!(
            "SSL_CERT_FILE {}: no certificate in it",
            std::path::Path::new(&path).display()
        );
    }
    Ok(Some(roots))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(base: &str, hosts: &[&str]) -> Client {
        let hosts: Vec<String> = hosts.iter().map(|h| h.to_string()).collect();
        Client::with_options(base, &hosts, Options::default()).unwrap()
    }

    fn check(c: &Client, url: &str) -> Result<(), String> {
        c.check_url(&Url::parse(url).unwrap())
    }

    #[test]
    fn policy_https_allowed_hosts() {
        let c = client("https://pypi.org/simple/", &["files.pythonhosted.org"]);
        assert!(check(&c, "https://pypi.org/simple/x/").is_ok());
        assert!(check(&c, "https://files.pythonhosted.org/packages/a.tar.gz").is_ok());
        assert!(check(&c, "https://FILES.pythonhosted.org/a").is_ok());
        assert!(check(&c, "http://pypi.org/simple/")
            .unwrap_err()
            .contains("not https"));
        assert!(check(&c, "https://evil.example/a")
            .unwrap_err()
            .contains("\"evil.example\""));
        assert!(check(&c, "https://user:pw@pypi.org/")
            .unwrap_err()
            .contains("credentials"));
        assert!(check(&c, "http://127.0.0.1:8080/").is_err());
        assert!(check(&c, "file:///etc/passwd").is_err());
    }

    #[test]
    fn policy_loopback_origin_only() {
        let c = client("http://127.0.0.1:8080/simple/", &[]);
        assert!(check(&c, "http://127.0.0.1:8080/files/a").is_ok());
        assert!(check(&c, "http://127.0.0.1:8081/files/a").is_err());
        assert!(check(&c, "http://localhost:8080/files/a").is_err());
    }

    #[test]
    fn base_must_be_https_or_loopback() {
        let err = Client::with_options("http://pypi.org/simple/", &[], Options::default())
            .unwrap_err()
            .to_string();
        assert!(err.contains("must be https"), "{err}");
        assert!(Client::with_options("ftp://127.0.0.1/", &[], Options::default()).is_err());
    }

    #[test]
    fn transient_classes() {
        let status = |s| HttpError::Status {
            url: "u".into(),
            status: s,
            retry_after: None,
        };
        assert!(status(500).is_transient());
        assert!(status(503).is_transient());
        assert!(status(429).is_transient());
        assert!(!status(404).is_transient());
        assert!(!status(403).is_transient());
        assert!(!HttpError::TooLarge {
            url: "u".into(),
            cap: 1
        }
        .is_transient());
        assert!(!HttpError::Deadline {
            url: "u".into(),
            secs: 1.0
        }
        .is_transient());
        assert!(!HttpError::Redirect {
            url: "u".into(),
            to: "v".into(),
            reason: "r".into()
        }
        .is_transient());
    }
}
