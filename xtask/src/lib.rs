//! pinwheel's library: the domain modules (named after the specs they
//! implement, free of I/O where possible) and one module per command. The
//! `xtask` binary in `main.rs` parses flags and dispatches here; integration
//! tests and `cargo xtask bench` use the same modules.

pub mod adversarial_report;
pub mod bench;
pub mod config;
pub mod failure;
pub mod fault_inject;
pub mod flags;
pub mod fresh;
pub mod hash;
pub mod rng;
pub mod synthetic_lock;
