//! The Debian tools a test starts. A missing one fails the test with its
//! name and the line that installs every test tool, never with a bare
//! "No such file or directory".

/// Fails the calling test unless every tool in `tools` is on `PATH`.
pub fn need(tools: &[&str]) {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let missing: Vec<&str> = tools
        .iter()
        .copied()
        .filter(|tool| !std::env::split_paths(&path).any(|dir| dir.join(tool).is_file()))
        .collect();
    assert!(
        missing.is_empty(),
        "{} not installed: `cargo xtask test` installs the test tools when run as root; otherwise run `{}`",
        missing.join(", "),
        xtask::test::install_line()
    );
}
