//! The HTTP client (`http.rs`) against the real loopback server
//! (`loopback.rs`) misbehaving on purpose: caps, short bodies, drips,
//! redirects, retries, content encodings.

use std::time::{Duration, Instant};

use pinwheel_proof::loopback::{Fault, Route, Server};
use url::Url;
use xtask::http::{Client, Event, HttpError, Limits, Options};

/// Short timeouts so that every case ends in a second or two.
fn fast() -> Options {
    Options {
        connect_timeout: Duration::from_secs(2),
        read_timeout: Duration::from_secs(2),
        deadline: Duration::from_secs(1),
        min_rate: 1024 * 1024,
        retries: 3,
        backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(50),
        max_redirects: 3,
        page_cap: 1024 * 1024,
    }
}

fn client(server: &Server, hosts: &[&str]) -> Client {
    let hosts: Vec<String> = hosts.iter().map(|h| h.to_string()).collect();
    Client::with_options(&server.url("/simple/"), &hosts, fast()).unwrap()
}

fn get(
    client: &Client,
    url: &str,
    limits: Limits,
) -> (Result<xtask::http::Fetched, HttpError>, Vec<u8>) {
    let mut body = Vec::new();
    let result = client.get(
        &Url::parse(url).unwrap(),
        None,
        limits,
        &mut body,
        &mut |_| {},
    );
    (result, body)
}

const BIG: Limits = Limits {
    cap: 1 << 20,
    expected: None,
};

#[test]
fn plain_get_sends_identity_and_returns_raw_bytes() {
    let server = Server::start().unwrap();
    server.route(
        "/files/a",
        Route::bytes(b"hello".to_vec())
            .with_header("Content-Disposition", "attachment; filename=\"../../evil\""),
    );
    let c = client(&server, &[]);
    let (result, body) = get(&c, &server.url("/files/a"), BIG);
    let fetched = result.unwrap();
    assert_eq!(body, b"hello");
    assert_eq!(fetched.len, 5);
    let req = &server.requests()[0];
    assert_eq!(req.header("accept-encoding"), Some("identity"));
}

#[test]
fn adversarial_gzip_content_encoding_is_not_decoded_for_hashing() {
    let server = Server::start().unwrap();
    let content = b"the same bytes, over and over ".repeat(100);
    server.route(
        "/files/a.tar.gz",
        Route::bytes(content.clone()).with_fault(Fault::Gzip),
    );
    server.route(
        "/simple/p/",
        Route::bytes(content.clone())
            .with_type("text/html")
            .with_fault(Fault::Gzip),
    );
    let c = client(&server, &[]);
    let (result, body) = get(&c, &server.url("/files/a.tar.gz"), BIG);
    let fetched = result.unwrap();
    assert_eq!(fetched.content_encoding.as_deref(), Some("gzip"));
    assert_ne!(body, content, "the body was decoded");
    assert_eq!(&body[..2], &[0x1f, 0x8b], "not the raw gzip stream");
    // Pages (not hashed) are inflated when a server ignores our `identity`.
    let page = c
        .get_page(&Url::parse(&server.url("/simple/p/")).unwrap(), None)
        .unwrap();
    assert_eq!(page.body, content);
}

#[test]
fn adversarial_short_body_is_an_error() {
    let server = Server::start().unwrap();
    server.route(
        "/files/short",
        Route::bytes(vec![7u8; 1000]).with_fault(Fault::Short { missing: 24 }),
    );
    let c = client(&server, &[]);
    let (result, _) = get(&c, &server.url("/files/short"), BIG);
    let err = result.unwrap_err();
    assert!(
        matches!(
            err,
            HttpError::Short {
                got: 1000,
                expected: 1024,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .contains("/files/short: body ended after 1000 of 1024 bytes"),
        "{err}"
    );
    // A cut-off transfer is transient: it was retried.
    assert_eq!(server.hits("/files/short"), 4);
}

#[test]
fn adversarial_endless_body_aborted_at_cap() {
    let server = Server::start().unwrap();
    server.route(
        "/files/endless",
        Route::bytes(Vec::new()).with_fault(Fault::Endless),
    );
    let c = client(&server, &[]);
    let started = Instant::now();
    let (result, body) = get(
        &c,
        &server.url("/files/endless"),
        Limits {
            cap: 300_000,
            expected: None,
        },
    );
    let err = result.unwrap_err();
    assert!(
        matches!(err, HttpError::TooLarge { cap: 300_000, .. }),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .contains("larger than the cap of 300000 bytes"),
        "{err}"
    );
    assert!(
        body.len() <= 300_000,
        "wrote {} bytes past the cap",
        body.len()
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(server.hits("/files/endless"), 1, "a cap is not retried");
}

#[test]
fn adversarial_body_larger_than_recorded_size() {
    let server = Server::start().unwrap();
    server.route("/files/big", Route::bytes(vec![1u8; 5000]));
    server.route(
        "/files/endless",
        Route::bytes(Vec::new()).with_fault(Fault::Endless),
    );
    let c = client(&server, &[]);
    // Content-Length says more than the index recorded: refused before reading.
    let (result, body) = get(
        &c,
        &server.url("/files/big"),
        Limits {
            cap: 1 << 20,
            expected: Some(4000),
        },
    );
    let err = result.unwrap_err();
    assert!(
        matches!(err, HttpError::LargerThanRecorded { expected: 4000, .. }),
        "{err:?}"
    );
    assert!(body.is_empty());
    // No Content-Length: aborted as soon as the stream passes the recorded size.
    let (result, body) = get(
        &c,
        &server.url("/files/endless"),
        Limits {
            cap: 1 << 20,
            expected: Some(4000),
        },
    );
    let err = result.unwrap_err();
    assert!(
        err.to_string()
            .contains("larger than the 4000 bytes the index recorded"),
        "{err}"
    );
    assert!(body.len() <= 4000);
}

#[test]
fn adversarial_content_length_over_cap_refused_before_reading() {
    let server = Server::start().unwrap();
    server.route("/files/big", Route::bytes(vec![1u8; 5000]));
    let c = client(&server, &[]);
    let (result, body) = get(
        &c,
        &server.url("/files/big"),
        Limits {
            cap: 4096,
            expected: None,
        },
    );
    assert!(matches!(
        result.unwrap_err(),
        HttpError::TooLarge { cap: 4096, .. }
    ));
    assert!(body.is_empty());
}

#[test]
fn adversarial_drip_server_hits_the_deadline() {
    let server = Server::start().unwrap();
    // One byte every 200 ms: each read succeeds well within the 2 s read
    // timeout, so only the overall deadline (1 s) can stop it.
    server.route(
        "/files/drip",
        Route::bytes(vec![b'x'; 100]).with_fault(Fault::Drip {
            every: Duration::from_millis(200),
        }),
    );
    let c = client(&server, &[]);
    let started = Instant::now();
    let (result, body) = get(&c, &server.url("/files/drip"), BIG);
    let elapsed = started.elapsed();
    let err = result.unwrap_err();
    assert!(matches!(err, HttpError::Deadline { .. }), "{err:?}");
    assert!(err.to_string().contains("deadline of 1.0 s"), "{err}");
    assert!(body.len() < 100);
    assert!(elapsed < Duration::from_secs(3), "took {elapsed:?}");
    assert_eq!(server.hits("/files/drip"), 1, "a deadline is not retried");
}

#[test]
fn adversarial_redirect_to_http_refused() {
    let server = Server::start().unwrap();
    let other = Server::start().unwrap();
    other.route("/files/a", Route::bytes(b"elsewhere".to_vec()));
    server.route(
        "/files/a",
        Route::bytes(Vec::new()).with_fault(Fault::Redirect {
            status: 302,
            location: "http://pypi.org/files/a".into(),
        }),
    );
    server.route(
        "/files/b",
        Route::bytes(Vec::new()).with_fault(Fault::Redirect {
            status: 301,
            location: other.url("/files/a"),
        }),
    );
    let c = client(&server, &["pypi.org"]);
    let (result, body) = get(&c, &server.url("/files/a"), BIG);
    let err = result.unwrap_err();
    assert!(matches!(err, HttpError::Redirect { .. }), "{err:?}");
    assert!(
        err.to_string()
            .contains("refusing redirect to http://pypi.org/files/a: http is not https"),
        "{err}"
    );
    assert!(body.is_empty());
    let (result, _) = get(&c, &server.url("/files/b"), BIG);
    let err = result.unwrap_err().to_string();
    assert!(
        err.contains("refusing redirect to http://127.0.0.1:"),
        "{err}"
    );
    assert_eq!(other.hits("/files/a"), 0, "the other origin was contacted");
}

#[test]
fn adversarial_redirect_to_foreign_host_refused() {
    let server = Server::start().unwrap();
    server.route(
        "/files/a",
        Route::bytes(Vec::new()).with_fault(Fault::Redirect {
            status: 307,
            location: "https://evil.example/a.tar.gz".into(),
        }),
    );
    let c = client(&server, &["pypi.org", "files.pythonhosted.org"]);
    let (result, _) = get(&c, &server.url("/files/a"), BIG);
    let err = result.unwrap_err().to_string();
    assert!(err.contains("refusing redirect to https://evil.example/a.tar.gz: host \"evil.example\" is not an allowed host"), "{err}");
    assert_eq!(server.hits("/files/a"), 1, "a refusal is not retried");
}

#[test]
fn redirect_within_loopback_origin_followed() {
    let server = Server::start().unwrap();
    server.route(
        "/files/a",
        Route::bytes(Vec::new()).with_fault(Fault::Redirect {
            status: 302,
            location: "/files/real/a".into(),
        }),
    );
    server.route("/files/real/a", Route::bytes(b"payload".to_vec()));
    let c = client(&server, &[]);
    let (result, body) = get(&c, &server.url("/files/a"), BIG);
    let fetched = result.unwrap();
    assert_eq!(body, b"payload");
    assert!(fetched.url.as_str().ends_with("/files/real/a"));
}

#[test]
fn adversarial_redirect_loop_stops() {
    let server = Server::start().unwrap();
    server.route(
        "/files/loop",
        Route::bytes(Vec::new()).with_fault(Fault::Redirect {
            status: 302,
            location: "/files/loop".into(),
        }),
    );
    let c = client(&server, &[]);
    let (result, _) = get(&c, &server.url("/files/loop"), BIG);
    assert!(matches!(
        result.unwrap_err(),
        HttpError::TooManyRedirects { max: 3, .. }
    ));
    assert_eq!(server.hits("/files/loop"), 4);
}

#[test]
fn retries_succeed_after_transient_500s() {
    let server = Server::start().unwrap();
    server.route(
        "/files/flaky",
        Route::bytes(b"finally".to_vec()).with_fault(Fault::fail_first(500, 2)),
    );
    server.route(
        "/files/busy",
        Route::bytes(b"ok".to_vec()).with_fault(Fault::fail_first(429, 1)),
    );
    let c = client(&server, &[]);
    let mut retries = 0;
    let mut body = Vec::new();
    c.get(
        &Url::parse(&server.url("/files/flaky")).unwrap(),
        None,
        BIG,
        &mut body,
        &mut |e| {
            if let Event::Retrying { .. } = e {
                retries += 1
            }
        },
    )
    .unwrap();
    assert_eq!(body, b"finally", "the sink was not reset between attempts");
    assert_eq!((retries, server.hits("/files/flaky")), (2, 3));
    let (result, body) = get(&c, &server.url("/files/busy"), BIG);
    result.unwrap();
    assert_eq!(body, b"ok");
}

#[test]
fn adversarial_retries_give_up() {
    let server = Server::start().unwrap();
    server.route(
        "/files/down",
        Route::bytes(Vec::new()).with_fault(Fault::fail_first(503, 1000)),
    );
    server.route(
        "/files/forbidden",
        Route::bytes(Vec::new()).with_fault(Fault::fail_first(403, 1000)),
    );
    let c = client(&server, &[]);
    let (result, _) = get(&c, &server.url("/files/down"), BIG);
    assert!(result
        .unwrap_err()
        .to_string()
        .contains("server answered HTTP 503"));
    assert_eq!(server.hits("/files/down"), 4, "1 attempt + 3 retries");
    let (result, _) = get(&c, &server.url("/files/forbidden"), BIG);
    assert!(result.unwrap_err().to_string().contains("HTTP 403"));
    assert_eq!(server.hits("/files/forbidden"), 1, "4xx is not retried");
}

#[test]
fn adversarial_connection_refused_retried_then_reported() {
    let server = Server::start().unwrap();
    let url = server.url("/files/x");
    let c = client(&server, &[]);
    drop(server);
    let started = Instant::now();
    let (result, _) = get(&c, &url, BIG);
    let err = result.unwrap_err();
    assert!(matches!(err, HttpError::Transport { .. }), "{err:?}");
    assert!(err.to_string().starts_with(&url), "{err}");
    assert!(started.elapsed() < Duration::from_secs(3));
}

#[test]
fn adversarial_start_url_outside_policy_refused() {
    let server = Server::start().unwrap();
    let c = client(&server, &[]);
    let (result, _) = get(&c, "http://files.pythonhosted.org/a.tar.gz", BIG);
    let err = result.unwrap_err().to_string();
    assert!(err.contains("refused: http is not https"), "{err}");
}
