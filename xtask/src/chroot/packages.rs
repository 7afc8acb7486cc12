//! What a chroot has installed: the `packages.txt` beside it
//! (`name=version` lines, sorted, one per installed package, as
//! `dpkg-query` lists them; the shape of a `.buildinfo`'s
//! `Installed-Build-Depends` without the `(= …)`), and the part of it that
//! changes the bytes of a compiled wheel. Pure: text in, values out.

use std::collections::BTreeMap;

use anyhow::bail;

/// The `dpkg-query -W -f` format whose output [`parse_dpkg_query`] reads.
pub const DPKG_QUERY_FORMAT: &str = "${Package}\\t${Version}\\t${db:Status-Status}\\n";

/// The installed packages of `dpkg-query -W -f DPKG_QUERY_FORMAT` output.
pub fn parse_dpkg_query(text: &str) -> anyhow::Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for line in text.lines() {
        let mut fields = line.split('\t');
        let (Some(name), Some(version), Some(status), None) =
            (fields.next(), fields.next(), fields.next(), fields.next())
        else {
            bail!("dpkg-query printed an unexpected line: {line:?}");
        };
        if status == "installed" {
            check_field(name, line)?;
            check_field(version, line)?;
            out.insert(name.to_owned(), version.to_owned());
        }
    }
    if out.is_empty() {
        bail!("dpkg-query listed no installed package");
    }
    Ok(out)
}

fn check_field(field: &str, line: &str) -> anyhow::Result<()> {
    if field.is_empty() || field.contains(['=', ' ']) {
        bail!("dpkg-query printed an unexpected line: {line:?}");
    }
    Ok(())
}

/// `name=version\n` for every package, sorted by name.
pub fn render(packages: &BTreeMap<String, String>) -> String {
    packages
        .iter()
        .map(|(name, version)| format!("{name}={version}\n"))
        .collect()
}

/// Reads back what [`render`] wrote.
pub fn parse(text: &str) -> anyhow::Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for (i, line) in text.lines().enumerate() {
        let Some((name, version)) = line.split_once('=') else {
            bail!("line {}: not name=version: {line:?}", i + 1);
        };
        if name.is_empty()
            || version.is_empty()
            || out.insert(name.to_owned(), version.to_owned()).is_some()
        {
            bail!("line {}: empty or repeated: {line:?}", i + 1);
        }
    }
    if out.is_empty() {
        bail!("no packages listed");
    }
    Ok(out)
}

/// Whether a package can change the bytes of a compiled wheel: the
/// interpreter and its headers (`python3.X*`, `libpython3.X*`), the
/// compilers and their runtime libraries (gcc's source package: `gcc-N`,
/// `cpp-N`, `libgcc*`, `libstdc++*`, `libgomp1`, …, and gcc-defaults'
/// `gcc`/`g++`/`cpp`), what gcc runs on (isl, mpc, mpfr, gmp), the
/// assembler and linker (binutils), and the C library's headers and
/// objects (glibc, `linux-libc-dev`, libxcrypt).
pub fn is_toolchain(name: &str) -> bool {
    const EXACT: [&str; 14] = [
        "python3",
        "python3-minimal",
        "python3-dev",
        "libpython3-dev",
        "libpython3-stdlib",
        "gcc",
        "g++",
        "cpp",
        "libc6",
        "libc6-dev",
        "libc-dev-bin",
        "linux-libc-dev",
        "libcrypt-dev",
        "libcrypt1",
    ];
    const PREFIXES: [&str; 26] = [
        "python3.",
        "libpython3.",
        "gcc-",
        "g++-",
        "cpp-",
        "binutils",
        "libbinutils",
        "libctf",
        "libsframe",
        "libgprofng",
        "libgcc",
        "libstdc++",
        "libgomp",
        "libatomic",
        "libquadmath",
        "libitm",
        "libasan",
        "liblsan",
        "libtsan",
        "libubsan",
        "libhwasan",
        "libcc1-",
        "libisl",
        "libmpc",
        "libmpfr",
        "libgmp",
    ];
    EXACT.contains(&name) || PREFIXES.iter().any(|p| name.starts_with(p))
}

/// The packages of `packages` that [`is_toolchain`] names.
pub fn toolchain(packages: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    packages
        .iter()
        .filter(|(name, _)| is_toolchain(name))
        .map(|(n, v)| (n.clone(), v.clone()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dpkg_query_output() {
        let text = "libc6\t2.36-9+deb12u10\tinstalled\npython3.11\t3.11.2-6+deb12u6\tinstalled\nold\t1\tconfig-files\n";
        let packages = parse_dpkg_query(text).unwrap();
        assert_eq!(packages.len(), 2);
        assert_eq!(packages["python3.11"], "3.11.2-6+deb12u6");
        let rendered = render(&packages);
        assert_eq!(
            rendered,
            "libc6=2.36-9+deb12u10\npython3.11=3.11.2-6+deb12u6\n"
        );
        assert_eq!(parse(&rendered).unwrap(), packages);
        assert!(parse_dpkg_query("a\t1\n").is_err());
        assert!(parse_dpkg_query("a\t1\tconfig-files\n").is_err());
        assert!(parse_dpkg_query("a=b\t1\tinstalled\n").is_err());
        assert!(parse("a=1\na=2\n").is_err());
        assert!(parse("a\n").is_err());
        assert!(parse("").is_err());
    }

    #[test]
    fn toolchain_names() {
        for name in [
            "python3.11",
            "python3.13-dev",
            "libpython3.11-stdlib",
            "gcc",
            "gcc-12",
            "gcc-14-x86-64-linux-gnu",
            "g++-12",
            "cpp",
            "cpp-14",
            "binutils",
            "binutils-x86-64-linux-gnu",
            "libbinutils",
            "libc6-dev",
            "linux-libc-dev",
            "libgcc-s1",
            "libgcc-12-dev",
            "libstdc++6",
            "libstdc++-12-dev",
            "libgomp1",
            "libisl23",
            "libmpc3",
            "libmpfr6",
            "libgmp10",
        ] {
            assert!(is_toolchain(name), "{name}");
        }
        for name in [
            "python3-pip",
            "python3-pip-whl",
            "python3-venv",
            "debhelper",
            "dpkg",
            "libc-bin",
            "perl",
            "libmagic1",
            "libmpdec3",
            "make",
        ] {
            assert!(!is_toolchain(name), "{name}");
        }
    }
}
