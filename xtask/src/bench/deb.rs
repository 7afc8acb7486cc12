//! Bench: `build-deb` and `check-reproducible` on the demo application,
//! wall time with a per-step breakdown.

use super::{Ctx, Measured};

pub fn build_deb(ctx: &Ctx) -> anyhow::Result<Measured> {
    let title = "build-deb: the demo application's package";
    let intro =
        "`cargo xtask build-deb` on the checked-in tree, wall time and the time of each step.";
    if !ctx.has_command("build-deb") {
        return Ok(Measured::skipped(title, intro, Ctx::missing("build-deb")));
    }
    Ok(Measured::skipped(
        title,
        intro,
        "the bench does not drive `build-deb` yet".to_owned(),
    ))
}

pub fn check_reproducible(ctx: &Ctx) -> anyhow::Result<Measured> {
    let title = "check-reproducible: two builds compared";
    let intro = "`cargo xtask check-reproducible` on the checked-in tree, wall time and the time of each step.";
    if !ctx.has_command("check-reproducible") {
        return Ok(Measured::skipped(
            title,
            intro,
            Ctx::missing("check-reproducible"),
        ));
    }
    Ok(Measured::skipped(
        title,
        intro,
        "the bench does not drive `check-reproducible` yet".to_owned(),
    ))
}
