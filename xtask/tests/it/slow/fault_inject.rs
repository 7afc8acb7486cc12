//! Fault injection as CI runs it: the real binary is killed with SIGKILL
//! at seeded random moments while it writes (what `cargo xtask
//! fault-inject` does),
//! and no file it manages may ever be partial or missing. All four
//! commands (update-deps, refresh-index, sign, sync-wheels from a loopback
//! server) are driven. Bounded: 17 kills per command (each command has its
//! own time budget of 20 s), 68 in all.

#[test]
fn sigkill_never_leaves_a_partial_file() {
    let work = tempfile::tempdir().unwrap();
    // The library behind `cargo xtask fault-inject`, driving this test
    // run's xtask binary (the command itself runs the proof through cargo).
    let exe = std::path::Path::new(env!("CARGO_BIN_EXE_xtask"));
    pinwheel_proof::use_xtask_binary(exe);
    let summary = pinwheel_proof::fault_inject::run_all(
        exe,
        &work.path().join("target/fault-inject"),
        17,
        7,
        &[],
    )
    .unwrap();
    let stdout = summary.markdown();
    assert_eq!(summary.violations(), 0, "{stdout}");
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
