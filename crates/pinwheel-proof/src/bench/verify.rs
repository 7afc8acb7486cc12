//! Bench: `cargo xtask verify` (signature + every hash) against
//! `gpg --verify` followed by `sha256sum -c` on indexes of 128 MiB, 512 MiB
//! and 2 GiB of seeded random files, beside the machine's physical limit
//! (single-core SHA-256 rate × cores); and signature checking alone,
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
/// (directory, file count) for the verify inputs; the smaller ones are
/// hard-linked subsets of the 2 GiB one.
const FILES_2G: usize = 256;

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

pub fn measure(ctx: &Ctx) -> anyhow::Result<Measured> {
    let title = "verify: signature and every hash of the index";
    let intro = "`cargo xtask verify` (pinned key, threshold 1, expiry, scope, then every file hashed) against `gpg --verify` of the list followed by `sha256sum -c` in the index, on seeded random files (8 MiB on average). The files are in the page cache after the warm-up, so this measures hashing, not the disk.";
    let big = ctx.work.join("index-2g");
    let files = inputs::random_index(&big, 2 * GIB, FILES_2G, 2)?;
    let trust = Trust::prepare(ctx)?;
    let mut inputs_list = Vec::new();
    for (name, count) in [("index-128m", FILES_2G / 16), ("index-512m", FILES_2G / 4)] {
        let dir = ctx.work.join(name);
        let subset = inputs::subset_index(&big, &files, &dir, count)?;
        inputs_list.push((dir, subset));
    }
    inputs_list.push((big, files));
    let have_pinwheel = ctx.has_command("verify");
    let mut rows = Vec::new();
    for (dir, files) in &inputs_list {
        trust.sign_index(ctx, dir, files)?;
        let bytes: u64 = files.iter().map(|f| f.size).sum();
        let pinwheel = if have_pinwheel {
            Ok(Side::new(
                "pinwheel verify",
                vec![trust.verify_command(ctx, dir)?],
            ))
        } else {
            Err(Ctx::missing("verify"))
        };
        let peer = Side::new(
            "gpg --verify + sha256sum -c",
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
        );
        let input = format!("{} MiB, {} files", bytes / MIB, files.len());
        rows.push(run_row(
            ctx,
            input,
            (bytes / MIB) as f64,
            vec![pinwheel, Ok(peer)],
        ));
    }
    trust.stop_agents();

    let mut notes = Vec::new();
    let limit = physical_limit(ctx);
    notes.push(limit.describe());
    let mut targets = Vec::new();
    if let (Some(row), Some((big_dir, big_files))) = (rows.last(), inputs_list.last()) {
        let bytes: u64 = big_files.iter().map(|f| f.size).sum();
        // CPU time against wall time, in runs of their own: how much of the
        // machine verify got, and how fast it hashes per CPU-second.
        let cpu = if have_pinwheel {
            cpu_profile(
                &Side::new("pinwheel verify", vec![trust.verify_command(ctx, big_dir)?]),
                ctx.reps.min(3),
            )
        } else {
            Err(Ctx::missing("verify"))
        };
        match &cpu {
            Ok(c) => notes.push(format!(
                "CPU use, {} more runs on 2 GiB: {} of CPU time ({} of it system time) per {} of wall time, i.e. {:.2} of the {} cores on average (load average {}, other processes share the machine); {} hashed per CPU-second.",
                c.runs,
                fmt_duration(c.cpu),
                fmt_duration(c.system),
                fmt_duration(c.wall),
                c.cores_used(),
                ctx.machine.cores,
                super::measure::load_average().unwrap_or_else(|| "unknown".to_owned()),
                fmt_rate(c.rate_per_cpu(bytes))
            )),
            Err(why) => notes.push(format!("CPU use not measured: {why}.")),
        }
        let per_cpu = cpu.as_ref().ok().map(|c| c.rate_per_cpu(bytes));
        let cores = ctx.machine.cores as f64;
        // What the machine's cores would give at the measured per-CPU rate.
        let gap = |what: &str| gap_text(per_cpu, &limit, &cpu, ctx.machine.cores, what);
        match (
            row.median("pinwheel verify"),
            row.median("gpg --verify + sha256sum -c"),
        ) {
            (Some(p), Some(g)) => {
                let ratio = g.as_secs_f64() / p.as_secs_f64();
                let estimate = per_cpu.map_or(String::new(), |r| {
                    format!("≈ {:.1}×", g.as_secs_f64() / (bytes as f64 / (r * cores)))
                });
                targets.push(Target::measured(
                    goals::VERIFY_GPG,
                    format!("{ratio:.2}× ({} vs {})", fmt_duration(p), fmt_duration(g)),
                    ratio >= 5.0,
                    gap(&estimate),
                ));
            }
            (None, _) => {}
            (Some(_), None) => targets.push(Target::not_measured(
                goals::VERIFY_GPG,
                "gpg --verify + sha256sum -c did not run (see the table)".to_owned(),
            )),
        }
        if let (Some(p), Some(best)) = (row.median("pinwheel verify"), limit.best_rate()) {
            let rate = bytes as f64 / p.as_secs_f64();
            let share = rate / (best * cores) * 100.0;
            let estimate = per_cpu.map_or(String::new(), |r| {
                format!(
                    "≈ {:.0}% of the limit",
                    (r * cores) / (best * cores) * 100.0
                )
            });
            targets.push(Target::measured(
                goals::VERIFY_LIMIT,
                format!(
                    "{} = {share:.1}% of {}",
                    fmt_rate(rate),
                    fmt_rate(best * cores)
                ),
                share >= 80.0,
                gap(&estimate),
            ));
        }
    }
    notes.extend(targets.iter().map(Target::note));
    let panel = panel("verify", "index size (MiB)", &rows);
    Ok(Measured {
        section: Section {
            title: title.to_owned(),
            intro: intro.to_owned(),
            body: Body::Timings(rows),
            notes,
        },
        panel,
        targets,
    })
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

    /// Bytes per CPU-second when each run processes `bytes`.
    pub fn rate_per_cpu(&self, bytes: u64) -> f64 {
        (bytes * self.runs as u64) as f64 / self.cpu.as_secs_f64().max(1e-9)
    }
}

/// What would close a miss of verify's targets, from its CPU use: the
/// cores it did not get, or its hashing rate per core. `what` is the
/// estimate at the measured per-CPU rate on every core.
fn gap_text(
    per_cpu: Option<f64>,
    limit: &Limit,
    cpu: &Result<CpuProfile, String>,
    cores: usize,
    what: &str,
) -> String {
    let (Some(r), Some(best), Ok(c)) = (per_cpu, limit.best_rate(), cpu) else {
        return "measure verify's CPU use (not measured in this run).".to_owned();
    };
    let share = r / best * 100.0;
    if c.cores_used() < 0.9 * cores as f64 {
        format!(
            "verify hashes at {} per CPU-second ({share:.0}% of the best single-core rate) but got only {:.2} of the {cores} cores in these runs: the missing wall-clock speed is mostly CPU time other processes took (the rest is the short serial start of the run). At its per-CPU rate, {cores} free cores would give {what}. Re-run on an idle machine to confirm.",
            fmt_rate(r),
            c.cores_used(),
        )
    } else {
        format!(
            "verify had {:.2} of the {cores} cores and hashed at {} per CPU-second, {share:.0}% of the best single-core rate (the `sha2` crate alone: {} per core). {:.0}% of its CPU time is system time, mostly read(2) copying the files out of the page cache; hashing memory-mapped files would skip that copy, and the rest is the serial start of the run (process start-up, signature, walk).",
            c.cores_used(),
            fmt_rate(r),
            fmt_rate(limit.sha2),
            c.system.as_secs_f64() / c.cpu.as_secs_f64() * 100.0,
        )
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

    pub fn describe(&self) -> String {
        let openssl = match &self.openssl {
            Ok(rate) => format!(
                "`openssl speed -bytes 1048576 sha256` {} per core",
                fmt_rate(*rate)
            ),
            Err(why) => format!("openssl speed not measured ({why})"),
        };
        let best = self.best_rate().unwrap_or(self.sha2);
        format!(
            "Physical limit: {openssl}; the `sha2` crate in this binary {} per core; best × {} cores = {}.",
            fmt_rate(self.sha2),
            self.cores,
            fmt_rate(best * self.cores as f64)
        )
    }
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

/// Hashes 64 MiB repeatedly for about a second on one thread.
fn sha2_rate() -> f64 {
    use sha2::Digest;
    let mut buf = vec![0u8; 64 << 20];
    crate::rng::Rng::new(5).fill(&mut buf);
    let start = Instant::now();
    let mut bytes = 0u64;
    while start.elapsed() < Duration::from_secs(1) {
        std::hint::black_box(sha2::Sha256::digest(&buf));
        bytes += buf.len() as u64;
    }
    bytes as f64 / start.elapsed().as_secs_f64()
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
