//! pinwheel's commands and the I/O layers under them. The `xtask` binary
//! (`main.rs`) parses the command line and dispatches to one module per
//! command, named after the verb; each command owns its flags (`Options`
//! or `Args`, a clap `Args` struct) and its `run`.
//!
//! The specs, the trust core and the archives live in their own crates
//! (`pinwheel-pypa`, `pinwheel-trust`, `pinwheel-archive`); this crate is
//! where files are written, processes started and the network reached.

// Commands, in pipeline order, then the tools.
pub mod add_app;
pub mod build_deb;
pub mod build_wheels;
pub mod check_reproducible;
pub mod chroot_command;
pub mod refresh_index;
pub mod requirements;
pub mod sdist;
pub mod sign;
pub mod sync_wheels;
pub mod test;
pub mod update_deps;
pub mod verify;
pub mod verify_signature;
pub mod vet;

// Shared by the commands.
pub mod build_requirements;
pub mod chroot;
pub mod config;
pub mod debian;
pub mod root;

// I/O layers.
pub mod fetch;
pub mod fresh;
pub mod host_packages;
pub mod http;
pub mod online;
pub mod package_index;
pub mod proof;
