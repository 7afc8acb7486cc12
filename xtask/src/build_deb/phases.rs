//! A time profile of a `dpkg-buildpackage` run from its output: each line
//! that announces a step (`dpkg-source --before-build`, `debian/rules
//! binary`, `dh_auto_install`, `dpkg-genbuildinfo`, ...) starts a phase that
//! lasts until the next one. Pure: the caller timestamps the lines as they
//! arrive.

use std::time::Duration;

/// The step a line announces, if it announces one: dpkg-buildpackage and
/// dh print each command indented by one to three spaces.
pub fn step(line: &str) -> Option<String> {
    let indent = line.len() - line.trim_start_matches(' ').len();
    if !(1..=3).contains(&indent) {
        return None;
    }
    let mut words = line.trim().split_whitespace();
    let first = words.next()?;
    if first.starts_with("dh_") || first.starts_with("dpkg-") {
        Some(first.to_owned())
    } else if first == "debian/rules" {
        Some(format!("debian/rules {}", words.next().unwrap_or_default()))
    } else {
        None
    }
}

/// Phases in order of first appearance with their total time; time before
/// the first announced step is "dpkg-buildpackage (setup)".
pub fn profile(lines: &[(Duration, String)], end: Duration) -> Vec<(String, Duration)> {
    let mut marks: Vec<(Duration, String)> =
        vec![(Duration::ZERO, "dpkg-buildpackage (setup)".to_owned())];
    marks.extend(
        lines
            .iter()
            .filter_map(|(at, line)| step(line).map(|s| (*at, s))),
    );
    let mut out: Vec<(String, Duration)> = Vec::new();
    for (i, (start, name)) in marks.iter().enumerate() {
        let stop = marks.get(i + 1).map_or(end, |(at, _)| *at);
        let spent = stop.saturating_sub(*start);
        match out.iter_mut().find(|(n, _)| n == name) {
            Some((_, total)) => *total += spent,
            None => out.push((name.clone(), spent)),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn steps() {
        assert_eq!(
            step(" dpkg-source --before-build ."),
            Some("dpkg-source".into())
        );
        assert_eq!(
            step(" debian/rules binary"),
            Some("debian/rules binary".into())
        );
        assert_eq!(step("   dh_auto_install"), Some("dh_auto_install".into()));
        assert_eq!(step("dpkg-deb: building package"), None);
        assert_eq!(step("    dh_not_a_step_when_deeper"), None);
        assert_eq!(step("  Running setup.py"), None);
    }

    #[test]
    fn durations() {
        let lines = vec![
            (ms(100), " debian/rules binary".to_owned()),
            (ms(150), "   dh_auto_build".to_owned()),
            (ms(160), "noise".to_owned()),
            (ms(900), "   dh_auto_install".to_owned()),
            (ms(2000), " dpkg-genbuildinfo --build=binary".to_owned()),
        ];
        let got = profile(&lines, ms(2100));
        assert_eq!(
            got,
            vec![
                ("dpkg-buildpackage (setup)".to_owned(), ms(100)),
                ("debian/rules binary".to_owned(), ms(50)),
                ("dh_auto_build".to_owned(), ms(750)),
                ("dh_auto_install".to_owned(), ms(1100)),
                ("dpkg-genbuildinfo".to_owned(), ms(100)),
            ]
        );
    }
}
