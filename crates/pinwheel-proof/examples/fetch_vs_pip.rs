//! Runs `pinwheel_proof::fetch_bench::compare_with_pip` once and prints the table:
//! `cargo run -p pinwheel-proof --example fetch_vs_pip -- PIP [FILES] [BYTES] [ROUNDS] [XTASK]`
//! (with XTASK, e.g. `target/debug/xtask`, the `sync-wheels` command is timed too).
//! `cargo xtask bench` runs the same comparison; this is for quick looks.

use std::path::PathBuf;

use pinwheel_proof::fetch_bench::{compare_with_pip, stats, Setup, SyncSetup};

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let pip = PathBuf::from(args.first().map(String::as_str).unwrap_or("pip"));
    let num =
        |i: usize, default: usize| args.get(i).and_then(|a| a.parse().ok()).unwrap_or(default);
    let setup = Setup {
        work: std::env::temp_dir().join("pinwheel-fetch-bench"),
        pip,
        files: num(1, 50),
        size: num(2, 1 << 20),
        rounds: num(3, 5),
        jobs: 8,
        sync: args.get(4).map(|xtask| SyncSetup {
            xtask: PathBuf::from(xtask),
            root: PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.."),
        }),
    };
    let c = compare_with_pip(&setup)?;
    let (pip_med, pip_min, pip_max) = stats(&c.pip_download);
    println!(
        "{} files, {} bytes in all, {} rounds after a warm-up; {}",
        setup.files, c.bytes, setup.rounds, c.pip_version
    );
    println!("| contender | median | min | max | pip / this |");
    println!("|---|---|---|---|---|");
    for (label, times) in [
        ("pinwheel: sha256sums.txt + fetch", &c.sums_then_fetch),
        (
            "pinwheel: 1 page lookup per file + fetch",
            &c.lookup_then_fetch,
        ),
        ("pip download --no-deps --require-hashes", &c.pip_download),
        ("cargo xtask sync-wheels (process)", &c.sync_wheels),
    ] {
        if times.is_empty() {
            continue;
        }
        let (med, min, max) = stats(times);
        println!(
            "| {label} | {:.3} s | {:.3} s | {:.3} s | {:.1}x |",
            med.as_secs_f64(),
            min.as_secs_f64(),
            max.as_secs_f64(),
            pip_med.as_secs_f64() / med.as_secs_f64()
        );
    }
    let _ = (pip_min, pip_max);
    let _ = std::fs::remove_dir_all(&setup.work);
    Ok(())
}
