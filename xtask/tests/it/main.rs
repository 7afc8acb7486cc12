//! pinwheel's integration tests: one binary, one module per area, the real
//! `xtask` binary and real peers (gpg, sqv, pip, dpkg, apt, lintian, an
//! HTTP server on 127.0.0.1). Slow groups live under [`slow`].

// A test binary: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

mod add_app;
mod adversarial_record;
mod chroot;
mod fetch;
mod http;
mod index;
mod requirements;
mod root;
mod signature_policy;
mod slow;
mod support;
mod sync_wheels;
mod tidy;
mod trust;
mod update_deps;
mod vet;
