//! Fault injection as CI runs it: the real binary is killed with SIGKILL
//! at seeded random moments while it writes (`cargo xtask fault-inject`),
//! and no file it manages may ever be partial or missing. All four
//! commands (update-deps, refresh-index, sign, sync-wheels from a loopback
//! server) are driven. Bounded: 17 kills per command (each command has its
//! own time budget of 20 s), 68 in all.

#[test]
fn sigkill_never_leaves_a_partial_file() {
    let work = tempfile::tempdir().unwrap();
    let out = duct::cmd!(
        env!("CARGO_BIN_EXE_xtask"),
        "--root",
        work.path(),
        "fault-inject",
        "--runs",
        "17",
        "--seed",
        "7"
    )
    .stdout_capture()
    .stderr_capture()
    .unchecked()
    .run()
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "fault-inject failed:\n{stdout}\n{stderr}"
    );
    let total = stdout
        .lines()
        .find(|l| l.starts_with("Total: "))
        .unwrap_or_else(|| panic!("no total:\n{stdout}"));
    assert!(total.contains(" 0 violations"), "{stdout}");
    let mut run = 0;
    for command in ["update-deps", "refresh-index", "sign", "sync-wheels"] {
        let row = stdout
            .lines()
            .find(|l| l.starts_with(&format!("| {command} |")))
            .unwrap_or_else(|| panic!("no row for {command}:\n{stdout}"));
        assert!(
            !row.contains("not run"),
            "{command} was not driven:\n{stdout}"
        );
        let cells: Vec<&str> = row.split('|').map(str::trim).collect();
        let kills: usize = cells[2].parse().unwrap();
        assert!(kills >= 17, "{command}: only {kills} kills\n{stdout}");
        run += 1;
    }
    assert_eq!(run, 4, "{stdout}");
    {
        let kills: usize = total
            .trim_start_matches("Total: ")
            .split(' ')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        assert!(kills >= 50, "{stdout}");
    }
}
