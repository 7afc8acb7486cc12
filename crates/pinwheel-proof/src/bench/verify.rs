//! Bench: `cargo xtask verify` (signature + every hash) against
//! `gpg --verify` followed by `sha256sum -c` on indexes of 128 MiB, 512 MiB
//! and 2 GiB of seeded random files of mixed sizes, of 8 × 128 MiB beside
//! small files, and of one 1 GiB file, each beside its physical limit
//! (single-core SHA-256 rate × the cores its biggest file lets it use);
//! and signature checking alone,
//! `cargo xtask verify-signature` against `gpgv` and `sqv`. The lists are
//! signed by a bench key made with gpg in a GNUPGHOME inside the work
//! directory (never the user's keyring).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

use super::inputs::{self, IndexFile};
use super::measure::{alternate, last_line, Outcome, Side};
use super::plot::{Panel, Series};
use super::report::{fmt_duration, fmt_rate, Body, Row, Section, Target};
use super::{goals, Ctx, Measured};

const GIB: u64 = 1 << 30;
const MIB: u64 = 1 << 20;
/// Files in the 2 GiB index of mixed sizes; the 128 MiB and 512 MiB ones
/// are hard-linked subsets of it.
const FILES_2G: usize = 256;
/// The index of a few large files: this many of 128 MiB, beside
/// `FEW_SMALL` files of `FEW_SMALL_TOTAL` bytes in all (like a demo's
/// wheels).
const FEW_LARGE: usize = 8;
const FEW_SMALL: usize = 32;
const FEW_SMALL_TOTAL: u64 = 12 * MIB;

/// The bench's signing key and the trust root made from it.
pub struct Trust {
    /// GNUPGHOME holding the secret key (signing only).
    pub signer_home: PathBuf,
    /// GNUPGHOME holding only the public key (the `gpg --verify` peer).
    pub verifier_home: PathBuf,
    pub fingerprint: String,
    /// Armored public key (pinwheel's `--keys` directory holds it; sqv reads it).
    pub keys_dir: PathBuf,
    pub armored: PathBuf,
    /// Binary keyring for gpgv.
    pub keyring: PathBuf,
    /// A repository root whose configuration pins the fingerprint.
    pub root: PathBuf,
}

/// One input of the verify comparison.
struct Case {
    dir: PathBuf,
    files: Vec<IndexFile>,
    /// The table's input column.
    input: String,
    /// Whether the row belongs to the scaling plot (the mixed indexes,
    /// which grow by file count at one mean size).
    plotted: bool,
    /// The targets it measures: against the peers, against its limit.
    goals: Option<(&'static str, &'static str)>,
}

impl Case {
    fn bytes(&self) -> u64 {
        self.files.iter().map(|f| f.size).sum()
    }

    fn sizes(&self) -> Vec<u64> {
        self.files.iter().map(|f| f.size).collect()
    }
}

/// The verify inputs: the mixed indexes (128 MiB and 512 MiB are subsets
/// of the 2 GiB one), a few large files beside small ones (where a split
/// that ignores sizes leaves the large ones to one core), one huge file.
fn cases(ctx: &Ctx) -> anyhow::Result<Vec<Case>> {
    let big = ctx.work.join("index-2g");
    let files = inputs::random_index(&big, 2 * GIB, FILES_2G, 2)?;
    let mut cases = Vec::new();
    for (name, count) in [("index-128m", FILES_2G / 16), ("index-512m", FILES_2G / 4)] {
        let dir = ctx.work.join(name);
        let subset = inputs::subset_index(&big, &files, &dir, count)?;
        cases.push(Case {
            input: mixed_label(&subset),
            dir,
            files: subset,
            plotted: true,
            goals: None,
        });
    }
    cases.push(Case {
        input: mixed_label(&files),
        dir: big,
        files,
        plotted: true,
        goals: Some((goals::VERIFY_GPG, goals::VERIFY_LIMIT)),
    });
    let mut sizes = vec![128 * MIB; FEW_LARGE];
    sizes.extend(inputs::split_sizes(FEW_SMALL_TOTAL, FEW_SMALL, 7));
    let dir = ctx.work.join("index-8x128m");
    let files = inputs::sized_index(&dir, &sizes, 7)?;
    cases.push(Case {
        input: format!(
            "{} MiB: {FEW_LARGE} × 128 MiB + {FEW_SMALL} small files",
            sizes.iter().sum::<u64>() / MIB
        ),
        dir,
        files,
        plotted: false,
        goals: Some((goals::VERIFY_FEW_GPG, goals::VERIFY_FEW_LIMIT)),
    });
    let dir = ctx.work.join("index-1g");
    let files = inputs::sized_index(&dir, &[GIB], 11)?;
    cases.push(Case {
        input: "1024 MiB, 1 file".to_owned(),
        dir,
        files,
        plotted: false,
        goals: Some((goals::VERIFY_ONE_GPG, goals::VERIFY_ONE_LIMIT)),
    });
    Ok(cases)
}

fn mixed_label(files: &[IndexFile]) -> String {
    let bytes: u64 = files.iter().map(|f| f.size).sum();
    format!("{} MiB, {} files", bytes / MIB, files.len())
}

pub fn measure(ctx: &Ctx) -> anyhow::Result<Measured> {
    let title = "verify: signature and every hash of the index";
    let intro = format!("`cargo xtask verify` (pinned key, threshold 1, expiry, scope, then every file hashed) against `gpg --verify` of the list followed by `sha256sum -c` in the index, on seeded random files: indexes of many files (8 MiB on average), one of {FEW_LARGE} files of 128 MiB beside {FEW_SMALL} small ones (about 384 KiB), and one of a single 1 GiB file. The files are in the page cache after the warm-up, so this measures hashing, not the disk. Each index has its own limit: its bytes at the best single-core SHA-256 rate on every core, or, when one file is more than a core's share, on as many cores as its total is a multiple of its biggest file (one file hashes on one core).");
    let cases = cases(ctx)?;
    let trust = Trust::prepare(ctx)?;
    let have_pinwheel = ctx.has_command("verify");
    let mut rows = Vec::new();
    for case in &cases {
        trust.sign_index(ctx, &case.dir, &case.files)?;
        let pinwheel = if have_pinwheel {
            Ok(Side::new(
                "pinwheel verify",
                vec![trust.verify_command(ctx, &case.dir)?],
            ))
        } else {
            Err(Ctx::missing("verify"))
        };
        let row = run_row(
            ctx,
            case.input.clone(),
            (case.bytes() / MIB) as f64,
            vec![pinwheel, Ok(peer(&trust, &case.dir))],
        );
        rows.push(Row {
            size: row.size.filter(|_| case.plotted),
            ..row
        });
    }

    let mut notes = Vec::new();
    let limit = physical_limit(ctx);
    notes.push(limit.describe());
    let mut targets = Vec::new();
    for (case, row) in cases.iter().zip(&rows) {
        let Some(goals) = case.goals else { continue };
        // CPU time against wall time, in runs of their own: how much of the
        // machine verify got, and how fast it hashes per CPU-second; the
        // peers' CPU time is their time on a free core (they run serially),
        // which the estimates use when other processes share the machine.
        let runs = ctx.reps.min(3);
        let cpu = if have_pinwheel {
            cpu_profile(
                &Side::new(
                    "pinwheel verify",
                    vec![trust.verify_command(ctx, &case.dir)?],
                ),
                runs,
            )
        } else {
            Err(Ctx::missing("verify"))
        };
        let peer_cpu = cpu_profile(&peer(&trust, &case.dir), runs);
        notes.push(cpu_note(ctx, case, &cpu, &peer_cpu));
        targets.extend(case_targets(case, row, &limit, &cpu, &peer_cpu, goals));
    }
    trust.stop_agents();
    notes.extend(targets.iter().map(Target::note));
    let panel = panel("verify", "index size (MiB)", &rows);
    Ok(Measured {
        section: Section {
            title: title.to_owned(),
            intro,
            body: Body::Timings(rows),
            notes,
        },
        panel,
        targets,
    })
}

/// `gpg --verify` of the list, then `sha256sum -c` in the index.
fn peer(trust: &Trust, dir: &Path) -> Side {
    Side::new(
        PEER,
        vec![
            duct::cmd!(
                "gpg",
                "--homedir",
                &trust.verifier_home,
                "--batch",
                "--verify",
                dir.join("sha256sums.txt.asc"),
                dir.join("sha256sums.txt")
            ),
            duct::cmd!("sha256sum", "-c", "--quiet", "--strict", "sha256sums.txt").dir(dir),
        ],
    )
}

const PEER: &str = "gpg --verify + sha256sum -c";

fn cpu_note(
    ctx: &Ctx,
    case: &Case,
    cpu: &Result<CpuProfile, String>,
    peer_cpu: &Result<CpuProfile, String>,
) -> String {
    let peer = match peer_cpu {
        Ok(c) => format!(
            " The peers, in as many runs: {} of CPU time per run, {} hashed per CPU-second.",
            fmt_duration(c.cpu / c.runs.max(1) as u32),
            fmt_rate(c.rate_per_cpu(case.bytes()))
        ),
        Err(why) => format!(" The peers' CPU use not measured: {why}."),
    };
    let own = match cpu {
        Ok(c) => format!(
            "CPU use, {} more runs on {}: {} of CPU time ({} of it system time, {:.0}%) per {} of wall time, i.e. {:.2} of the {} cores on average (load average {}, other processes share the machine); {} hashed per CPU-second.",
            c.runs,
            case.input,
            fmt_duration(c.cpu),
            fmt_duration(c.system),
            c.system_share() * 100.0,
            fmt_duration(c.wall),
            c.cores_used(),
            ctx.machine.cores,
            super::measure::load_average().unwrap_or_else(|| "unknown".to_owned()),
            fmt_rate(c.rate_per_cpu(case.bytes()))
        ),
        Err(why) => format!("CPU use on {} not measured: {why}.", case.input),
    };
    own + &peer
}

/// The two targets of one input: against the peers and against its limit.
fn case_targets(
    case: &Case,
    row: &Row,
    limit: &Limit,
    cpu: &Result<CpuProfile, String>,
    peer_cpu: &Result<CpuProfile, String>,
    (gpg_goal, limit_goal): (&str, &str),
) -> Vec<Target> {
    let mut targets = Vec::new();
    let bytes = case.bytes();
    let usable = limit.usable_cores(&case.sizes());
    let per_cpu = cpu.as_ref().ok().map(|c| c.rate_per_cpu(bytes));
    let gap = |what: &str| gap_text(per_cpu, limit, cpu, usable, what);
    match (row.median("pinwheel verify"), row.median(PEER)) {
        (Some(p), Some(g)) => {
            let ratio = g.as_secs_f64() / p.as_secs_f64();
            // The peers on a free core: their CPU time per run (they run one
            // process at a time), else their wall time.
            let alone = peer_cpu.as_ref().map_or(g.as_secs_f64(), |c| {
                c.cpu.as_secs_f64() / c.runs.max(1) as f64
            });
            let ceiling = limit
                .best_rate()
                .map(|best| alone / (bytes as f64 / (best * usable)));
            let close = match ceiling {
                Some(c) if c < 5.0 => format!(
                    "out of reach on this machine: even at the limit ({}) verify would be {c:.1}× the peers, whose `sha256sum` hashes at {} per CPU-second; {}",
                    limit.describe_for(usable),
                    fmt_rate(bytes as f64 / alone),
                    if usable < 1.5 {
                        "one file's SHA-256 is serial, so only a faster single-core SHA-256 would close it."
                    } else {
                        "only a faster SHA-256 per core or more cores would close it."
                    }
                ),
                _ => gap(&per_cpu.map_or(String::new(), |r| {
                    format!("≈ {:.1}×", alone / (bytes as f64 / (r * usable)))
                })),
            };
            targets.push(Target::measured(
                gpg_goal,
                format!("{ratio:.2}× ({} vs {})", fmt_duration(p), fmt_duration(g)),
                ratio >= 5.0,
                close,
            ));
        }
        (None, _) => {}
        (Some(_), None) => targets.push(Target::not_measured(
            gpg_goal,
            format!("{PEER} did not run (see the table)"),
        )),
    }
    if let (Some(p), Some(best)) = (row.median("pinwheel verify"), limit.best_rate()) {
        let rate = bytes as f64 / p.as_secs_f64();
        let share = rate / (best * usable) * 100.0;
        let estimate = per_cpu.map_or(String::new(), |r| {
            format!("≈ {:.0}% of the limit", r / best * 100.0)
        });
        targets.push(Target::measured(
            limit_goal,
            format!(
                "{} = {share:.1}% of {} ({})",
                fmt_rate(rate),
                fmt_rate(best * usable),
                limit.describe_for(usable)
            ),
            share >= 80.0,
            gap(&estimate),
        ));
    }
    targets
}

/// Wall and CPU time of some runs of one side, summed.
pub struct CpuProfile {
    pub runs: usize,
    pub wall: Duration,
    /// User + system.
    pub cpu: Duration,
    pub system: Duration,
}

impl CpuProfile {
    /// CPU time over wall time: the cores the side got on average.
    pub fn cores_used(&self) -> f64 {
        self.cpu.as_secs_f64() / self.wall.as_secs_f64().max(1e-9)
    }

    /// The share of the CPU time spent in the kernel.
    pub fn system_share(&self) -> f64 {
        self.system.as_secs_f64() / self.cpu.as_secs_f64().max(1e-9)
    }

    /// Bytes per CPU-second when each run processes `bytes`.
    pub fn rate_per_cpu(&self, bytes: u64) -> f64 {
        (bytes * self.runs as u64) as f64 / self.cpu.as_secs_f64().max(1e-9)
    }
}

/// What would close a miss of one input's targets, from verify's CPU use
/// there: the cores it did not get, or its hashing rate per core. `usable`
/// is the cores its limit counts; `what` is the estimate at the measured
/// per-CPU rate on those cores.
fn gap_text(
    per_cpu: Option<f64>,
    limit: &Limit,
    cpu: &Result<CpuProfile, String>,
    usable: f64,
    what: &str,
) -> String {
    let (Some(r), Some(best), Ok(c)) = (per_cpu, limit.best_rate(), cpu) else {
        return "measure verify's CPU use (not measured in this run).".to_owned();
    };
    let share = r / best * 100.0;
    if c.cores_used() < 0.9 * usable {
        format!(
            "verify hashes at {} per CPU-second ({share:.0}% of the best single-core rate) but got only {:.2} of the {} core(s) its limit counts in these runs: the missing wall-clock speed is CPU time other processes took, or a core left idle (the rest is the short serial start of the run). At its per-CPU rate, {} free core(s) would give {what}. Re-run on an idle machine to tell them apart.",
            fmt_rate(r),
            c.cores_used(),
            fmt_cores(usable),
            fmt_cores(usable),
        )
    } else {
        format!(
            "verify had {:.2} of the {} core(s) its limit counts and hashed at {} per CPU-second, {share:.0}% of the best single-core rate (the `sha2` crate alone: {} per CPU-second). {:.0}% of its CPU time is system time (mapping the large files, reading the small ones, process start-up); the rest is the serial start of the run (signature, walk).",
            c.cores_used(),
            fmt_cores(usable),
            fmt_rate(r),
            fmt_rate(limit.sha2),
            c.system_share() * 100.0,
        )
    }
}

/// "2", or "1.5" for a fraction of cores.
fn fmt_cores(cores: f64) -> String {
    if cores.fract() == 0.0 {
        format!("{cores:.0}")
    } else {
        format!("{cores:.1}")
    }
}

fn cpu_profile(side: &Side, runs: usize) -> Result<CpuProfile, String> {
    let mut profile = CpuProfile {
        runs,
        wall: Duration::ZERO,
        cpu: Duration::ZERO,
        system: Duration::ZERO,
    };
    for _ in 0..runs {
        let (wall, cpu) = side.run_with_cpu()?;
        profile.wall += wall;
        profile.cpu += cpu.total();
        profile.system += cpu.system;
    }
    if profile.cpu.is_zero() {
        return Err("no CPU time was recorded".to_owned());
    }
    Ok(profile)
}

pub fn measure_signature(ctx: &Ctx) -> anyhow::Result<Measured> {
    let title = "verify-signature: the signature alone";
    let intro = "`cargo xtask verify-signature --keys DIR FILE SIG` against `gpgv` (binary keyring) and `sqv` (armored key) on the 2 GiB index's signed list (an Ed25519 key made by gpg). The target: no slower than gpgv.";
    let big = ctx.work.join("index-2g");
    let files = inputs::random_index(&big, 2 * GIB, FILES_2G, 2)?;
    let trust = Trust::prepare(ctx)?;
    trust.sign_index(ctx, &big, &files)?;
    trust.stop_agents();
    let (list, sig) = (big.join("sha256sums.txt"), big.join("sha256sums.txt.asc"));
    let pinwheel = if ctx.has_command("verify-signature") {
        Ok(Side::new(
            "pinwheel verify-signature",
            vec![ctx.xtask([
                "--root".as_ref(),
                trust.root.as_os_str(),
                "verify-signature".as_ref(),
                "--keys".as_ref(),
                trust.keys_dir.as_os_str(),
                list.as_os_str(),
                sig.as_os_str(),
            ])],
        ))
    } else {
        Err(Ctx::missing("verify-signature"))
    };
    let gpgv = ctx.peers.available("gpgv").map(|()| {
        Side::new(
            "gpgv",
            vec![duct::cmd!("gpgv", "--keyring", &trust.keyring, &sig, &list)],
        )
    });
    let sqv = ctx.peers.available("sqv").map(|()| {
        Side::new(
            "sqv",
            vec![duct::cmd!("sqv", "--keyring", &trust.armored, &sig, &list)],
        )
    });
    let row = run_row(
        ctx,
        format!("{} files listed", files.len()),
        0.0,
        vec![pinwheel, gpgv, sqv],
    );
    let targets: Vec<Target> = match (row.median("pinwheel verify-signature"), row.median("gpgv")) {
        (Some(p), Some(g)) => vec![Target::measured(
            goals::SIGNATURE_GPGV,
            format!("{} vs {}", fmt_duration(p), fmt_duration(g)),
            p <= g,
            "profile a verify-signature run: process start-up, reading the keys directory and parsing the certificate come before the one Ed25519 check".to_owned(),
        )],
        _ => vec![],
    };
    let notes = targets.iter().map(Target::note).collect();
    let row = Row { size: None, ..row };
    Ok(Measured {
        section: Section {
            title: title.to_owned(),
            intro: intro.to_owned(),
            body: Body::Timings(vec![row]),
            notes,
        },
        panel: None,
        targets,
    })
}

/// Measures the runnable sides alternately and keeps the others' reasons.
pub fn run_row(ctx: &Ctx, input: String, size: f64, sides: Vec<Result<Side, String>>) -> Row {
    let runnable: Vec<Side> = sides
        .iter()
        .filter_map(|s| s.as_ref().ok().cloned())
        .collect();
    let mut measured = alternate(&runnable, ctx.warmup, ctx.reps).into_iter();
    let labels = ["pinwheel", "peer", "peer"];
    let sides = sides
        .into_iter()
        .enumerate()
        .map(|(i, side)| match side {
            Ok(s) => (
                s.label,
                measured
                    .next()
                    .unwrap_or_else(|| Outcome::Failed("not run".to_owned())),
            ),
            Err(why) => (
                labels.get(i).copied().unwrap_or("peer").to_owned(),
                Outcome::Failed(why),
            ),
        })
        .collect();
    Row {
        input,
        size: Some(size),
        sides,
    }
}

/// A panel of every measured side of every row that has a size.
pub fn panel(title: &str, x_label: &str, rows: &[Row]) -> Option<Panel> {
    let mut series: Vec<Series> = Vec::new();
    for row in rows {
        let Some(size) = row.size else { continue };
        for (label, outcome) in &row.sides {
            let Outcome::Measured(stats) = outcome else {
                continue;
            };
            let point = (size, stats.median.as_secs_f64());
            match series.iter_mut().find(|s| &s.label == label) {
                Some(s) => s.points.push(point),
                None => series.push(Series {
                    label: label.clone(),
                    points: vec![point],
                }),
            }
        }
    }
    (!series.is_empty()).then(|| Panel {
        title: title.to_owned(),
        x_label: x_label.to_owned(),
        series,
    })
}

impl Trust {
    /// Makes (or reuses) the bench key, the verifier's GNUPGHOME, the
    /// keyrings and a repository root pinning the key.
    pub fn prepare(ctx: &Ctx) -> anyhow::Result<Trust> {
        let base = ctx.work.join("trust");
        let signer_home = base.join("signer");
        let verifier_home = base.join("verifier");
        let keys_dir = base.join("root/packaging/keys");
        let armored = keys_dir.join("bench.asc");
        let keyring = base.join("bench.gpg");
        let root = base.join("root");
        let fpr_file = base.join("fingerprint");
        let ready = fs_err::read_to_string(&fpr_file)
            .ok()
            .map(|s| s.trim().to_owned());
        let fingerprint = match ready {
            Some(fpr)
                if fpr.len() == 40
                    && armored.exists()
                    && keyring.exists()
                    && verifier_home.exists() =>
            {
                fpr
            }
            _ => {
                if base.exists() {
                    fs_err::remove_dir_all(&base)?;
                }
                for home in [&signer_home, &verifier_home] {
                    fs_err::create_dir_all(home)?;
                    set_private(home)?;
                }
                fs_err::create_dir_all(&keys_dir)?;
                gpg(
                    &signer_home,
                    &[
                        "--quick-gen-key",
                        "pinwheel bench key (benchmarks only) <bench@pinwheel.invalid>",
                        "ed25519",
                        "sign",
                        "never",
                    ],
                )?;
                let colons = gpg_read(&signer_home, &["--with-colons", "--list-keys"])?;
                let fpr = colons
                    .lines()
                    .find_map(|l| {
                        l.strip_prefix("fpr:")
                            .map(|rest| rest.trim_matches(':').to_owned())
                    })
                    .context("gpg listed no fingerprint for the bench key")?;
                let public = gpg_read(&signer_home, &["--armor", "--export", &fpr])?;
                fs_err::write(&armored, &public)?;
                let binary = duct::cmd!(
                    "gpg",
                    "--homedir",
                    &signer_home,
                    "--batch",
                    "--export",
                    &fpr
                )
                .stdout_capture()
                .stderr_capture()
                .run()
                .context("gpg --export")?;
                fs_err::write(&keyring, &binary.stdout)?;
                gpg(
                    &verifier_home,
                    &["--import", &armored.display().to_string()],
                )?;
                gpg(
                    &verifier_home,
                    &["--quick-set-ownertrust", &fpr, "ultimate"],
                )
                .ok();
                fs_err::write(&fpr_file, format!("{fpr}\n"))?;
                fpr
            }
        };
        write_root_config(ctx, &root, &fingerprint)?;
        Ok(Trust {
            signer_home,
            verifier_home,
            fingerprint,
            keys_dir,
            armored,
            keyring,
            root,
        })
    }

    /// Writes `dir/sha256sums.txt` for `files` and signs it with the bench
    /// key, unless the list and a signature over it are already there.
    pub fn sign_index(&self, ctx: &Ctx, dir: &Path, files: &[IndexFile]) -> anyhow::Result<()> {
        let list = dir.join("sha256sums.txt");
        let text = render_list(files, &scope(ctx))?;
        let sig = dir.join("sha256sums.txt.asc");
        let fresh =
            fs_err::read_to_string(&list).is_ok_and(|old| same_files(&old, &text)) && sig.exists();
        if fresh && self.gpg_verifies(dir) {
            return Ok(());
        }
        xtask::fresh::write_atomic(&list, text.as_bytes())?;
        if sig.exists() {
            fs_err::remove_file(&sig)?;
        }
        gpg(
            &self.signer_home,
            &[
                "--digest-algo",
                "SHA256",
                "--armor",
                "--detach-sign",
                "--output",
                &sig.display().to_string(),
                &list.display().to_string(),
            ],
        )?;
        Ok(())
    }

    fn gpg_verifies(&self, dir: &Path) -> bool {
        duct::cmd!(
            "gpg",
            "--homedir",
            &self.verifier_home,
            "--batch",
            "--verify",
            dir.join("sha256sums.txt.asc"),
            dir.join("sha256sums.txt")
        )
        .stdout_null()
        .stderr_null()
        .unchecked()
        .run()
        .is_ok_and(|o| o.status.success())
    }

    /// `xtask --root ROOT verify --index DIR --keys KEYS`, with a root of
    /// its own per index: verify records the last trusted version there
    /// (rollback), and the bench's indexes are unrelated lists.
    pub fn verify_command(&self, ctx: &Ctx, dir: &Path) -> anyhow::Result<duct::Expression> {
        let name = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let root = self.root.with_file_name(format!("root-{name}"));
        write_root_config(ctx, &root, &self.fingerprint)?;
        let state = root.join(".pinwheel");
        if state.exists() {
            fs_err::remove_dir_all(&state)?;
        }
        Ok(ctx.xtask([
            "--root".as_ref(),
            root.as_os_str(),
            "verify".as_ref(),
            "--index".as_ref(),
            dir.as_os_str(),
            "--keys".as_ref(),
            self.keys_dir.as_os_str(),
        ]))
    }

    /// Stops the gpg-agents the bench's homes started.
    pub fn stop_agents(&self) {
        for home in [&self.signer_home, &self.verifier_home] {
            let _ = duct::cmd!("gpgconf", "--homedir", home, "--kill", "all")
                .stdout_null()
                .stderr_null()
                .unchecked()
                .run();
        }
    }
}

/// The configured scope of the signed list.
fn scope(ctx: &Ctx) -> String {
    xtask::config::Config::load(&ctx.root)
        .map(|c| c.trust.scope)
        .unwrap_or_else(|_| "pinwheel/wheels-index".to_owned())
}

/// Two lists name the same files with the same digests (headers may differ
/// in expiry, which moves with the clock).
fn same_files(a: &str, b: &str) -> bool {
    let body = |s: &str| {
        s.lines()
            .filter(|l| !l.starts_with('#'))
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };
    let expires = |s: &str| {
        s.lines()
            .find_map(|l| l.strip_prefix("# expires: ").map(str::to_owned))
    };
    let not_expiring = expires(a)
        .and_then(|e| {
            time::OffsetDateTime::parse(&e, &time::format_description::well_known::Rfc3339).ok()
        })
        .is_some_and(|e| e > time::OffsetDateTime::now_utc() + time::Duration::days(1));
    body(a) == body(b) && not_expiring
}

/// The signed list (`sha256sums.rs`): version 1, an expiry 30 days ahead,
/// the configured scope, every file.
pub fn render_list(files: &[IndexFile], scope: &str) -> anyhow::Result<String> {
    use pinwheel_trust::sha256sums::{ListMeta, SignedList};
    let expires = (time::OffsetDateTime::now_utc() + time::Duration::days(30))
        .replace_time(time::Time::MIDNIGHT);
    let list = SignedList {
        meta: ListMeta {
            version: 1,
            expires,
            scope: scope.to_owned(),
        },
        entries: files.iter().map(|f| (f.path.clone(), f.sha256)).collect(),
    };
    list.render().context("rendering the bench's signed list")
}

/// A repository root for `--root`: the repository's configuration with the
/// bench key's fingerprint pinned and `packaging/keys` holding it.
fn write_root_config(ctx: &Ctx, root: &Path, fingerprint: &str) -> anyhow::Result<()> {
    let source = ctx.root.join(xtask::config::CONFIG_PATH);
    let text = fs_err::read_to_string(&source)?;
    let mut doc: toml_edit::DocumentMut = text
        .parse()
        .with_context(|| format!("{}: parsing", source.display()))?;
    let trust = doc
        .get_mut("trust")
        .and_then(|t| t.as_table_mut())
        .context("configuration has no [trust] table")?;
    let mut fprs = toml_edit::Array::new();
    fprs.push(fingerprint);
    trust["fingerprints"] = toml_edit::value(fprs);
    trust["keys"] = toml_edit::value("packaging/keys");
    trust["threshold"] = toml_edit::value(1);
    xtask::fresh::ensure_file_contents(
        &root.join(xtask::config::CONFIG_PATH),
        doc.to_string().as_bytes(),
        xtask::fresh::Mode::Write,
    )?;
    Ok(())
}

fn set_private(dir: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    fs_err::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    Ok(())
}

fn gpg(home: &Path, args: &[&str]) -> anyhow::Result<()> {
    gpg_read(home, args).map(|_| ())
}

fn gpg_read(home: &Path, args: &[&str]) -> anyhow::Result<String> {
    let mut all = vec![
        "--homedir".to_owned(),
        home.display().to_string(),
        "--batch".to_owned(),
    ];
    all.extend(["--pinentry-mode", "loopback", "--passphrase", ""].map(str::to_owned));
    all.extend(args.iter().map(|s| (*s).to_owned()));
    let out = duct::cmd("gpg", &all)
        .stdout_capture()
        .stderr_capture()
        .unchecked()
        .run()
        .context("running gpg")?;
    if !out.status.success() {
        bail!("gpg {}: {}", args.join(" "), last_line(&out.stderr));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The machine's SHA-256 ceiling: single-core rates from OpenSSL and from
/// the `sha2` crate pinwheel uses, times the cores.
pub struct Limit {
    pub openssl: Result<f64, String>,
    pub sha2: f64,
    pub cores: usize,
}

impl Limit {
    pub fn best_rate(&self) -> Option<f64> {
        Some(self.openssl.as_ref().copied().unwrap_or(0.0).max(self.sha2)).filter(|r| *r > 0.0)
    }

    /// The cores an index of files of `sizes` can use: every core, unless
    /// its biggest file is more than a core's share (one file hashes on one
    /// core), then its total over its biggest file.
    pub fn usable_cores(&self, sizes: &[u64]) -> f64 {
        usable_cores(self.cores, sizes)
    }

    /// "best × 2 cores", "best × 1 core: one file hashes on one core".
    pub fn describe_for(&self, usable: f64) -> String {
        let best = fmt_rate(self.best_rate().unwrap_or(self.sha2));
        if usable >= self.cores as f64 {
            format!("{best} × {} cores", self.cores)
        } else if usable <= 1.0 {
            format!("{best} × 1 core: one file hashes on one core")
        } else {
            format!(
                "{best} × {} cores: its biggest file is more than a core's share",
                fmt_cores(usable)
            )
        }
    }

    pub fn describe(&self) -> String {
        let openssl = match &self.openssl {
            Ok(rate) => format!(
                "`openssl speed -bytes 1048576 sha256` {} per CPU-second",
                fmt_rate(*rate)
            ),
            Err(why) => format!("openssl speed not measured ({why})"),
        };
        let best = self.best_rate().unwrap_or(self.sha2);
        format!(
            "Physical limit: {openssl}; the `sha2` crate in this binary {} per CPU-second; the best × {} cores = {}.",
            fmt_rate(self.sha2),
            self.cores,
            fmt_rate(best * self.cores as f64)
        )
    }
}

/// See [`Limit::usable_cores`]: hashing `sizes` cannot take less than
/// its total over all cores, nor less than its biggest file on one.
pub fn usable_cores(cores: usize, sizes: &[u64]) -> f64 {
    let total: u64 = sizes.iter().sum();
    let biggest = sizes.iter().copied().max().unwrap_or(0);
    if biggest == 0 {
        return cores as f64;
    }
    (total as f64 / biggest as f64).clamp(1.0, cores.max(1) as f64)
}

pub fn physical_limit(ctx: &Ctx) -> Limit {
    Limit {
        openssl: openssl_rate(),
        sha2: sha2_rate(),
        cores: ctx.machine.cores,
    }
}

/// `openssl speed -seconds 1 -bytes 1048576 sha256`, in bytes per second.
fn openssl_rate() -> Result<f64, String> {
    let out = duct::cmd!("openssl", "speed", "-seconds", "1", "-bytes", "1048576", "sha256")
        .stdout_capture()
        .stderr_capture()
        .unchecked()
        .run()
        .map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(last_line(&out.stderr));
    }
    parse_openssl_speed(&String::from_utf8_lossy(&out.stdout))
        .ok_or_else(|| "unrecognised openssl speed output".to_owned())
}

/// The last `sha256 …k` line of `openssl speed`: thousands of bytes per
/// second.
pub fn parse_openssl_speed(text: &str) -> Option<f64> {
    let line = text
        .lines()
        .rev()
        .find(|l| l.trim_start().starts_with("sha256"))?;
    let value = line.split_whitespace().last()?.strip_suffix('k')?;
    value.parse::<f64>().ok().map(|k| k * 1000.0)
}

/// Hashes 64 MiB repeatedly on one thread for about a second of its CPU
/// time (at most three seconds of wall time), in bytes per CPU-second:
/// like `openssl speed`, which divides by user CPU time, so that both
/// rates hold when other processes share the cores.
fn sha2_rate() -> f64 {
    use sha2::Digest;
    let mut buf = vec![0u8; 64 << 20];
    crate::rng::Rng::new(5).fill(&mut buf);
    let start = Instant::now();
    let cpu_start = thread_cpu();
    let mut bytes = 0u64;
    let cpu = loop {
        std::hint::black_box(sha2::Sha256::digest(&buf));
        bytes += buf.len() as u64;
        let cpu = thread_cpu()
            .zip(cpu_start)
            .map(|(now, then)| now.saturating_sub(then));
        match cpu {
            Some(cpu) if cpu >= Duration::from_secs(1) => break cpu,
            _ if start.elapsed() >= Duration::from_secs(3) => {
                break cpu.filter(|c| !c.is_zero()).unwrap_or(start.elapsed())
            }
            _ => {}
        }
    };
    bytes as f64 / cpu.as_secs_f64()
}

/// This thread's CPU time (user + system) from /proc/thread-self/stat, in
/// the kernel's 10 ms ticks.
fn thread_cpu() -> Option<Duration> {
    parse_thread_cpu(&fs_err::read_to_string("/proc/thread-self/stat").ok()?)
}

/// `utime` + `stime` (fields 14 and 15) of a /proc stat line.
fn parse_thread_cpu(stat: &str) -> Option<Duration> {
    // The command name (field 2) may hold spaces and parentheses.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // fields[0] is field 3 (the state).
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(Duration::from_millis((utime + stime) * 10))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_profile_rates() {
        let p = CpuProfile {
            runs: 3,
            wall: Duration::from_secs(3),
            cpu: Duration::from_secs(6),
            system: Duration::from_secs(1),
        };
        assert_eq!(p.cores_used(), 2.0);
        assert_eq!(p.rate_per_cpu(1000), 500.0);
    }

    #[test]
    fn usable_cores_of_an_index() {
        let mib = 1 << 20;
        // Many files of varied sizes: every core.
        assert_eq!(usable_cores(2, &[8 * mib; 256]), 2.0);
        // A few large files: still every core while there are enough.
        let mut few = vec![128 * mib; 8];
        few.extend([mib; 12]);
        assert_eq!(usable_cores(2, &few), 2.0);
        assert_eq!(usable_cores(16, &few), (8 * 128 + 12) as f64 / 128.0);
        // One huge file: one core, whatever the machine.
        assert_eq!(usable_cores(2, &[1 << 30]), 1.0);
        assert_eq!(
            usable_cores(2, &[1 << 30, 1]),
            1.0 + 1.0 / (1u64 << 30) as f64
        );
        assert_eq!(usable_cores(4, &[]), 4.0);
        let limit = Limit {
            openssl: Ok(2e9),
            sha2: 1e9,
            cores: 2,
        };
        assert_eq!(limit.describe_for(2.0), "2000 MB/s × 2 cores");
        assert_eq!(
            limit.describe_for(1.0),
            "2000 MB/s × 1 core: one file hashes on one core"
        );
    }

    #[test]
    fn thread_cpu_from_stat() {
        let stat =
            "5244 (a (b) c) R 5242 5242 31998 0 -1 4194304 100 0 0 0 7 3 250 31 20 0 1 0 656897";
        assert_eq!(parse_thread_cpu(stat), Some(Duration::from_millis(100)));
        assert_eq!(parse_thread_cpu("5244 (cat) R 1 2"), None);
        assert!(thread_cpu().is_some());
    }

    #[test]
    fn parses_openssl_speed() {
        let text = "version: 3.0.15\nbuilt on: ...\nThe 'numbers' are in 1000s of bytes per second processed.\ntype       1048576 bytes\nsha256         1861369.86k\n";
        assert_eq!(parse_openssl_speed(text), Some(1_861_369_860.0));
        assert_eq!(parse_openssl_speed("nothing\n"), None);
    }

    #[test]
    fn list_is_sorted_with_header() {
        let f = |p: &str| IndexFile {
            path: p.to_owned(),
            sha256: pinwheel_trust::hash::Sha256::of(p.as_bytes()),
            size: 1,
        };
        let text = render_list(
            &[f("files/b"), f("files/C"), f("files/a")],
            "pinwheel/wheels-index",
        )
        .unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "# pinwheel-list: 1");
        assert_eq!(lines[3], "# scope: pinwheel/wheels-index");
        assert!(
            lines[4].ends_with("  files/C")
                && lines[5].ends_with("  files/a")
                && lines[6].ends_with("  files/b")
        );
        assert!(same_files(&text, &text));
    }
}
