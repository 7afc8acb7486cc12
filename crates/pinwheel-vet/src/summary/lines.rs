//! The added lines a reviewer must not miss (group 4 of the summary): very
//! long lines, long base64- or hex-like runs, and names of calls that run
//! code, start processes, reach the network or decode hidden payloads.

/// Longer lines than this are flagged (characters).
const LONG_LINE: usize = 500;

/// Longer base64- or hex-like runs than this are flagged (characters).
const LONG_RUN: usize = 200;

/// Flagged when not preceded by a letter, digit, `_` or `.`.
const NAMES: [&str; 15] = [
    "exec(",
    "eval(",
    "compile(",
    "__import__(",
    "marshal.loads",
    "subprocess",
    "os.system",
    "os.popen",
    "socket",
    "urllib.request",
    "http.client",
    "requests.",
    "ctypes",
    "base64.b64decode",
    "codecs.decode",
];

/// Why a line is flagged, followed by the line quoted; `None` when it is
/// not.
pub(super) fn flags(line: &str) -> Option<String> {
    let mut why: Vec<String> = Vec::new();
    let chars = line.trim_end_matches(['\n', '\r']).chars().count();
    if chars > LONG_LINE {
        why.push(format!("very long line ({chars} characters)"));
    }
    let run = longest_encoded_run(line);
    if run > LONG_RUN {
        why.push(format!("base64/hex-like run of {run} characters"));
    }
    if line
        .trim_end_matches(['\n', '\r'])
        .chars()
        .any(crate::diff::hidden)
    {
        why.push("control or bidirectional character".to_owned());
    }
    for name in NAMES {
        if mentions(line, name) {
            why.push(name.to_owned());
        }
    }
    if why.is_empty() {
        return None;
    }
    Some(format!("{}: {}", why.join(", "), super::quote(line)))
}

fn mentions(line: &str, name: &str) -> bool {
    line.match_indices(name).any(|(at, _)| {
        !line[..at]
            .chars()
            .next_back()
            .is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '.')
    })
}

/// The longest run of base64 characters (`A-Z a-z 0-9 + / = - _`) that
/// holds both a letter and a digit (so `=====` underlines and long
/// identifiers are not runs).
fn longest_encoded_run(line: &str) -> usize {
    let mut best = 0;
    for run in line.split(|c: char| !(c.is_ascii_alphanumeric() || "+/=-_".contains(c))) {
        let mixed =
            run.bytes().any(|b| b.is_ascii_digit()) && run.bytes().any(|b| b.is_ascii_alphabetic());
        if mixed {
            best = best.max(run.len());
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_need_a_boundary_before_them() {
        for line in [
            "subprocess.run(['ls'])",
            "x = eval(data)",
            "import socket",
            "from ctypes import CDLL",
            "  r = requests.get(url)",
            "exec(compile(src, 'f', 'exec'))",
        ] {
            assert!(flags(line).is_some(), "{line}");
        }
        for line in [
            "pattern = re.compile(r'x')",
            "websocket = None",
            "cursor.execute(query)",
            "self.evaluate(x)",
            "my_subprocess_helper = 1",
            "import os",
        ] {
            assert_eq!(flags(line), None, "{line}");
        }
        assert_eq!(
            flags("    os.system('rm -rf /') # and os.popen\n").unwrap(),
            "os.system, os.popen: os.system('rm -rf /') # and os.popen"
        );
    }

    #[test]
    fn long_lines_and_encoded_runs() {
        let long = format!("x = '{}'", "ab cd ".repeat(90));
        assert!(flags(&long)
            .unwrap()
            .starts_with("very long line (546 characters): x = 'ab cd"));
        assert!(flags(&long).unwrap().ends_with('…'));
        let short = format!("x = '{}'", "ab cd ".repeat(80));
        assert_eq!(flags(&short), None);

        let blob = format!("PAYLOAD = b'{}'", "aGVsbG8gd29ybGQ0".repeat(13));
        assert_eq!(
            flags(&blob).unwrap().split(':').next(),
            Some("base64/hex-like run of 208 characters")
        );
        let shorter = format!("PAYLOAD = b'{}'", "aGVsbG8gd29ybGQ0".repeat(12));
        assert_eq!(flags(&shorter), None);
        // Long runs without digits, or without letters, are not encodings.
        assert_eq!(flags(&"=".repeat(300)), None);
        assert_eq!(longest_encoded_run(&"a_long_identifier_".repeat(15)), 0);
    }
}
