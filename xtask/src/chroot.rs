//! PLACEHOLDER (uncommitted): the API of branch `chroot`, so build-wheels compiles meanwhile.
#![allow(dead_code, unused_variables, clippy::todo)]
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
pub const CACHE_ENV: &str = "PINWHEEL_CHROOT_DIR";
pub fn cache_dir(root: &Path) -> PathBuf { todo!() }
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Flavor { Build { extra: BTreeSet<String> }, Runtime }
pub struct Chroot { pub target: String, pub suite: String, pub dir: PathBuf, pub python: String, pub packages: BTreeMap<String, String> }
pub fn prepare(root: &Path, target: &crate::config::Target, flavor: &Flavor, refresh: bool) -> anyhow::Result<Chroot> { todo!() }
#[derive(Debug, Clone)]
pub struct Bind { pub path: PathBuf, pub writable: bool }
impl Chroot {
    pub fn command(&self, binds: &[Bind], cwd: &Path, program: &str, args: &[String]) -> (String, Vec<String>) { todo!() }
    pub fn toolchain(&self) -> BTreeMap<String, String> { todo!() }
    pub fn package_list(&self) -> String { todo!() }
}
pub fn build_depends(control: &str) -> Vec<String> { todo!() }
