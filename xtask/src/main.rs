//! `cargo xtask`: the pinwheel command line. Parses flags and dispatches to
//! one module per command; exit codes are 0 (ok), 1 (verification failed or
//! stale) and 2 (usage or I/O error).

use std::process::ExitCode;

use xtask::{config, failure, flags, fresh, refresh_index, requirements, sdist, update_deps};

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
