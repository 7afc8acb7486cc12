//! pinwheel's library: the domain modules (named after the specs they
//! implement, free of I/O where possible) and one module per command. The
//! `xtask` binary in `main.rs` parses flags and dispatches here; integration
//! tests and `cargo xtask bench` use the same modules.

pub mod adversarial_report;
pub mod archive;
pub mod bench;
pub mod build_deb;
pub mod build_wheels;
pub mod check_reproducible;
pub mod closure;
pub mod config;
pub mod core_metadata;
pub mod deb;
pub mod failure;
pub mod fault_inject;
pub mod fetch;
pub mod flags;
pub mod fresh;
pub mod hash;
pub mod http;
pub mod index_pages;
pub mod lockfile;
pub mod loopback;
pub mod markers;
pub mod online;
pub mod package_index;
pub mod refresh_index;
pub mod requirements;
pub mod requirements_txt;
pub mod rng;
pub mod sdist;
pub mod sdist_filename;
pub mod sha256sums;
pub mod sign;
pub mod signature;
pub mod simple_index;
pub mod synthetic_lock;
pub mod tags;
pub mod update_deps;
pub mod verify;
pub mod verify_signature;
pub mod wheel;
pub mod wheel_filename;
