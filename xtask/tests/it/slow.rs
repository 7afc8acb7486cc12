//! The slow groups: each builds wheels, Debian packages or kills commands
//! many times (minutes, not seconds). `cargo test -- --skip slow::` runs
//! everything else.

pub mod build_deb;
pub mod build_wheels;
pub mod fault_inject;
