//! `cargo xtask`: the pinwheel command line. Parses flags and dispatches to
//! one module per command; exit codes are 0 (ok), 1 (verification failed or
//! stale) and 2 (usage or I/O error).

use std::process::ExitCode;

use xtask::{
    build_deb, build_wheels, check_reproducible, config, failure, flags, fresh, refresh_index,
    requirements, sdist, sign, update_deps, verify, verify_signature,
};

fn main() -> ExitCode {
    let flags = flags::Pinwheel::parse_args();
    match run(flags) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(failure::exit_code(&err))
        }
    }
}

fn run(flags: flags::Pinwheel) -> anyhow::Result<()> {
    let root = flags.root()?;
    match flags.command {
        flags::Command::CheckConfig => {
            let config = config::Config::load(&root)?;
            println!(
                "{}: {} application(s), target CPython {} on {}",
                config.path.display(),
                config.apps.len(),
                config.target.python,
                config.target.platform
            );
            Ok(())
        }
        flags::Command::BuildWheels(args) => build_wheels::run(
            &root,
            &build_wheels::Options {
                app: args.app,
                rebuild: args.rebuild,
                verify_reproducible: args.verify_reproducible,
                jobs: args.jobs,
            },
        ),
        flags::Command::BuildDeb(args) => build_deb::run(
            &root,
            &build_deb::Options {
                app: args.app,
                out: args.out,
                install_build_deps: args.install_build_deps,
            },
        ),
        flags::Command::CheckReproducible(args) => check_reproducible::run(
            &root,
            &check_reproducible::Options {
                app: args.app,
                install_build_deps: args.install_build_deps,
            },
        ),
        flags::Command::Sdist(args) => {
            sdist::run(
                &root,
                &sdist::Options {
                    app: args.app,
                    out: args.out,
                },
            )?;
            Ok(())
        }
        flags::Command::UpdateDeps(args) => update_deps::run(
            &root,
            &update_deps::Options {
                app: args.app,
                check: args.check,
                relock: args.relock,
                online: args.online,
            },
        ),
        flags::Command::Requirements(args) => requirements::run(
            &root,
            &requirements::Options {
                lock: args.lock,
                pyproject: args.pyproject,
                python: args.python,
                allow_wheel_only: args.allow_wheel_only,
            },
        ),
        flags::Command::RefreshIndex(args) => {
            let mode = if args.check {
                fresh::Mode::Check
            } else {
                fresh::Mode::Write
            };
            refresh_index::run(
                &root,
                &refresh_index::Options {
                    index: args.index,
                    mode,
                },
            )?;
            Ok(())
        }
        flags::Command::Sign(args) => {
            let signer = match (args.key, args.gpg) {
                (Some(key), _) => sign::Signer::Key(key),
                (None, Some(id)) => sign::Signer::Gpg(id),
                (None, None) => anyhow::bail!("pass --key FILE or --gpg KEYID"),
            };
            sign::run(&root, args.index.as_deref(), signer)
        }
        flags::Command::Verify(args) => verify::run(
            &root,
            args.index.as_deref(),
            args.keys.as_deref(),
            args.threshold.map(|t| t as usize),
        ),
        flags::Command::VerifySignature(args) => {
            verify_signature::run(&args.keys, &args.file, &args.signature)
        }
        flags::Command::Bench(args) => xtask::bench::run(
            &root,
            xtask::bench::Options {
                quick: args.quick,
                only: args.only,
            },
        ),
        flags::Command::FaultInject(args) => {
            xtask::fault_inject::run(&root, args.runs, args.seed, &args.only)
        }
        flags::Command::AdversarialReport(args) => {
            xtask::adversarial_report::run(&root, args.from_log.as_deref())
        }
    }
}
