//! pinwheel's library: the domain modules (named after the specs they
//! implement, free of I/O where possible) and one module per command. The
//! `xtask` binary in `main.rs` parses flags and dispatches here; integration
//! tests and `cargo xtask bench` use the same modules.

pub mod config;
pub mod failure;
pub mod fetch;
pub mod flags;
pub mod fresh;
pub mod hash;
pub mod http;
pub mod loopback;
pub mod online;
pub mod package_index;
pub mod simple_index;
