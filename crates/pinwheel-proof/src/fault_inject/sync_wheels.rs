//! The `sync-wheels` scenario of fault injection: a loopback server (in
//! the fault injector's process) serves a signed index (list signed with
//! the demonstration key, as `fetch::bench::SyncSetup` does); a throwaway
//! repository (`fetch::bench::make_sync_repo`) first syncs version 1
//! completely, then the server switches to version 2, which keeps most
//! files, replaces some under the same name, drops some and adds more, and
//! the killed run is `sync-wheels --prune` towards version 2.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use anyhow::Context;

use crate::fetch_bench::{demo_signed_list, make_sync_repo, make_wheel};
use crate::loopback::{Route, Server};
use pinwheel_trust::hash::Sha256;

use super::{repo_root, run_to_end, Scenario};

/// Files of version 1; version 2 keeps the first `KEPT`, replaces the next
/// `REPLACED`, drops the rest and adds `ADDED`.
const V1_FILES: usize = 40;
const KEPT: usize = 30;
const REPLACED: usize = 5;
const ADDED: usize = 20;
/// Payload bytes per wheel.
const WHEEL_SIZE: usize = 48 << 10;

/// One version of the remote index: `files/NAME` → bytes.
type Index = BTreeMap<String, Vec<u8>>;

fn wheel(i: usize, seed: u64) -> anyhow::Result<(String, Vec<u8>)> {
    let name = format!("syncpkg{i:02}");
    Ok((
        format!("files/{name}-1.0-py3-none-any.whl"),
        make_wheel(&name, "1.0", WHEEL_SIZE, seed)?,
    ))
}

fn versions() -> anyhow::Result<(Index, Index)> {
    let mut v1 = Index::new();
    let mut v2 = Index::new();
    for i in 0..V1_FILES {
        let (path, bytes) = wheel(i, i as u64)?;
        if i < KEPT {
            v2.insert(path.clone(), bytes.clone());
        } else if i < KEPT + REPLACED {
            v2.insert(path.clone(), wheel(i, 1000 + i as u64)?.1);
        }
        v1.insert(path, bytes);
    }
    for i in V1_FILES..V1_FILES + ADDED {
        let (path, bytes) = wheel(i, i as u64)?;
        v2.insert(path, bytes);
    }
    Ok((v1, v2))
}

/// Serves `index` at the server's root: every file, its list and the
/// list's signature (routes of files no longer listed stay, unlisted).
fn publish(server: &Server, index: &Index, signed: &(Vec<u8>, Vec<u8>)) {
    for (path, bytes) in index {
        server.route(&format!("/{path}"), Route::bytes(bytes.clone()));
    }
    server.route(
        "/sha256sums.txt",
        Route::bytes(signed.0.clone()).with_type("text/plain"),
    );
    server.route(
        "/sha256sums.txt.asc",
        Route::bytes(signed.1.clone()).with_type("text/plain"),
    );
}

fn sync_args(dir: &Path, from: &str) -> Vec<OsString> {
    vec![
        "--root".into(),
        dir.into(),
        "sync-wheels".into(),
        "--from".into(),
        from.into(),
        "--prune".into(),
    ]
}

/// The scenario; the server lives as long as it does.
pub(super) fn scenario(exe: &Path) -> anyhow::Result<Scenario> {
    let root = repo_root()?;
    let (v1, v2) = versions()?;
    let digests = |index: &Index| -> BTreeMap<String, Sha256> {
        index
            .iter()
            .map(|(p, b)| (p.clone(), Sha256::of(b)))
            .collect()
    };
    let signed1 = demo_signed_list(&root, digests(&v1), 1)?;
    let signed2 = demo_signed_list(&root, digests(&v2), 2)?;
    let server = Rc::new(Server::start().context("starting the loopback server")?);
    let from = server.url("/");
    let exe: PathBuf = exe.to_path_buf();
    let setup_from = from.clone();
    Ok(Scenario {
        command: "sync-wheels",
        setup: Box::new(move |dir| {
            make_sync_repo(&root, dir)?;
            publish(&server, &v1, &signed1);
            run_to_end(&exe, dir, &sync_args(dir, &setup_from))?;
            publish(&server, &v2, &signed2);
            Ok(())
        }),
        args: Box::new(move |dir| sync_args(dir, &from)),
        accept_new: Box::new(|_, _, _| false),
        recover: None,
    })
}
