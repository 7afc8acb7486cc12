//! Scaffolding shared by the integration tests: real GnuPG homes
//! ([`gpg`]), seeded test keys ([`keys`]) and throwaway repositories with
//! a runner for the `xtask` binary ([`repo`]).

pub mod gpg;
pub mod keys;
pub mod repo;
pub mod tools;
