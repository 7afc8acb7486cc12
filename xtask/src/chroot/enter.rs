//! Entering a chroot: one `unshare` command line that gives a program its
//! own mount, network, PID, UTS and IPC namespaces, puts the cached chroot
//! behind a throwaway overlay and `chroot`s into it; and the two queries
//! pinwheel itself runs inside (python3's version, dpkg-query).
//!
//! Inside: the chroot's files over a tmpfs upper layer (writes vanish with
//! the namespace, the cached base never changes), `/proc` of the new PID
//! namespace, a fresh tmpfs on `/tmp` and `/dev/shm`, a `/dev` holding only
//! the host's `null zero full random urandom tty` (no disks) and a devpts
//! instance of its own with `ptmx` beside it (so ptys open: pexpect works),
//! hostname `pinwheel`, a loopback device that is down and nothing else,
//! and the binds at their own absolute paths (read-only ones remounted
//! `ro,nosuid,nodev`). The program is PID 1 of its namespace: when it
//! exits everything it started dies, and `--kill-child` kills it when
//! `unshare` dies.
//!
//! Every path reaches the script as a positional argument, never in its
//! text. Paths with `,` `:` or a newline are refused (overlayfs' option
//! syntax), as are bind paths that are relative, hold `.`/`..`, are `/`, do
//! not exist, or would be reached through a symbolic link inside the
//! chroot (`mkdir -p` would follow it out onto the host).
//!
//! As root the namespaces are the kernel's plain ones. As another user a
//! user namespace maps uid/gid 0 to the caller and 1…65535 to the first
//! range of `/etc/subuid` / `/etc/subgid` (`unshare --map-users=auto
//! --map-groups=auto --map-root-user`, newuidmap from `uidmap`); the chroot
//! is made inside the same mapping, so its root-owned files belong to the
//! caller on the host and to root inside.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};

/// How chroots are made and entered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Effective uid 0: `mmdebstrap --mode=root`, plain namespaces.
    Root,
    /// Any other user: everything inside a user namespace mapping the
    /// caller to root and the subordinate ids to the rest.
    Rootless,
}

/// The `unshare` options that create the user namespace of rootless mode.
const USERNS: [&str; 3] = ["--map-users=auto", "--map-groups=auto", "--map-root-user"];

/// The namespaces every command gets.
const NAMESPACES: [&str; 7] = ["-m", "-n", "-p", "-u", "-i", "--fork", "--kill-child"];

/// Where the host tools the script and `prepare` run are looked up,
/// whatever `PATH` the caller passes.
pub const SYSTEM_PATH: &str = "/usr/sbin:/usr/bin:/sbin:/bin";

impl Mode {
    /// Root or not, by effective uid.
    pub fn current() -> Mode {
        if crate::host_packages::is_root() {
            Mode::Root
        } else {
            Mode::Rootless
        }
    }

    /// `unshare`'s user-namespace options (none for root).
    pub fn userns(self) -> &'static [&'static str] {
        match self {
            Mode::Root => &[],
            Mode::Rootless => &USERNS,
        }
    }

    /// mmdebstrap's `--mode`.
    pub fn mmdebstrap_mode(self) -> &'static str {
        match self {
            Mode::Root => "--mode=root",
            // Root inside our user namespace: mmdebstrap unshares the rest.
            Mode::Rootless => "--mode=unshare",
        }
    }

    /// Checks that this mode can enter chroots here: as root always; as
    /// another user, `unshare` with the subordinate-id mapping and every
    /// namespace must start `true`.
    pub fn check(self, unshare: &Path) -> anyhow::Result<()> {
        if self == Mode::Root {
            return Ok(());
        }
        let mut args: Vec<&str> = USERNS.to_vec();
        args.extend(NAMESPACES);
        args.extend(["--", "true"]);
        let out = duct::cmd(unshare, &args)
            .full_env([("PATH", SYSTEM_PATH)])
            .stdin_null()
            .stdout_null()
            .stderr_capture()
            .unchecked()
            .run()
            .with_context(|| format!("cannot run {}", unshare.display()))?;
        if !out.status.success() {
            let why = String::from_utf8_lossy(&out.stderr);
            let why = why.lines().next().unwrap_or("no message").trim().to_owned();
            bail!(
                "chroots as a user need a user namespace with subordinate ids, and `unshare {}` failed ({why}); \
                 run as root, or give this user ranges in /etc/subuid and /etc/subgid",
                args.join(" ")
            );
        }
        Ok(())
    }
}

/// A host tool by absolute path, looked up in [`SYSTEM_PATH`].
pub fn system_tool(name: &str) -> anyhow::Result<PathBuf> {
    SYSTEM_PATH
        .split(':')
        .map(|dir| Path::new(dir).join(name))
        .find(|path| path.is_file())
        .with_context(|| format!("`{name}` is not installed (looked in {SYSTEM_PATH})"))
}

/// The shell script run by `/bin/sh -c` inside the new namespaces.
/// Positional arguments: MNT BASE CWD, then `rw|ro PATH` pairs, `--`,
/// PROGRAM ARGS….
const SCRIPT: &str = r#"set -eu
fail() { printf 'pinwheel chroot: %s\n' "$*" >&2; exit 2; }
nl='
'
mnt=$1 base=$2 cwd=$3
shift 3
if [ -n "${PATH+set}" ]; then caller_path=$PATH; else caller_path=; fi
PATH=/usr/sbin:/usr/bin:/sbin:/bin
case $base in *,*|*:*|*"$nl"*) fail "chroot $base: a path with ',' ':' or a newline cannot be mounted";; esac
mount --make-rprivate /
mount -t tmpfs -o mode=0755 pinwheel-chroot "$mnt"
mkdir "$mnt/upper" "$mnt/work" "$mnt/root"
r=$mnt/root
mount -t overlay overlay -o "lowerdir=$base,upperdir=$mnt/upper,workdir=$mnt/work" "$r"
mount -t proc proc "$r/proc"
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs "$r/tmp"
mount -t tmpfs -o mode=0755,nosuid tmpfs "$r/dev"
for d in null zero full random urandom tty; do
  : > "$r/dev/$d"
  mount --bind "/dev/$d" "$r/dev/$d"
done
mkdir "$r/dev/pts" "$r/dev/shm"
mount -t devpts -o newinstance,ptmxmode=0666,mode=0620 devpts "$r/dev/pts"
ln -s pts/ptmx "$r/dev/ptmx"
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs "$r/dev/shm"
ln -s /proc/self/fd "$r/dev/fd"
ln -s /proc/self/fd/0 "$r/dev/stdin"
ln -s /proc/self/fd/1 "$r/dev/stdout"
ln -s /proc/self/fd/2 "$r/dev/stderr"
hostname pinwheel 2>/dev/null || { printf pinwheel > /proc/sys/kernel/hostname; } 2>/dev/null || fail "cannot set the hostname"
set -f
while [ "$1" != -- ]; do
  how=$1 path=$2
  shift 2
  case $path in /*) ;; *) fail "bind $path: not an absolute path";; esac
  case $path in *,*|*:*|*"$nl"*) fail "bind $path: a path with ',' ':' or a newline cannot be mounted";; esac
  case $path/ in */./*|*/../*) fail "bind $path: has . or .. components";; esac
  [ "$path" != / ] || fail "bind /: cannot bind the root"
  [ -e "$path" ] || fail "bind $path: does not exist"
  p=$r
  IFS=/
  for c in $path; do
    [ -n "$c" ] || continue
    p=$p/$c
    [ ! -L "$p" ] || fail "bind $path: ${p#"$r"} is a symbolic link inside the chroot"
  done
  unset IFS
  if [ -d "$path" ]; then
    mkdir -p "$r$path"
  else
    mkdir -p "$r${path%/*}"
    [ -e "$r$path" ] || : > "$r$path"
  fi
  mount --rbind "$path" "$r$path"
  [ "$how" = rw ] || mount -o remount,bind,ro,nosuid,nodev "$r$path"
done
shift
chroot=$(command -v chroot)
if [ -n "$caller_path" ]; then PATH=$caller_path; else unset PATH; fi
exec "$chroot" "$r" /bin/sh -c 'cd "$1" && shift && exec "$@"' sh "$cwd" "$@"
"#;

/// Everything [`argv`] needs besides the command.
#[derive(Debug, Clone)]
pub struct Entry<'a> {
    pub mode: Mode,
    /// Absolute path of the host's `unshare`.
    pub unshare: &'a Path,
    /// The empty directory the namespace's tmpfs is mounted on.
    pub mnt: &'a Path,
    /// The chroot's root directory (the overlay's lower layer).
    pub base: &'a Path,
}

/// The argv (program, args) that runs `program args` in `cwd` inside the
/// chroot, with `binds` (path, writable) at their own paths.
pub fn argv(
    entry: &Entry<'_>,
    binds: &[(&Path, bool)],
    cwd: &Path,
    program: &str,
    args: &[String],
) -> (String, Vec<String>) {
    let mut all: Vec<String> = entry.mode.userns().iter().map(|s| s.to_string()).collect();
    all.extend(NAMESPACES.map(str::to_owned));
    all.extend(["--", "/bin/sh", "-c", SCRIPT, "sh"].map(str::to_owned));
    for path in [entry.mnt, entry.base, cwd] {
        all.push(path.display().to_string());
    }
    for (path, writable) in binds {
        all.push(if *writable { "rw" } else { "ro" }.to_owned());
        all.push(path.display().to_string());
    }
    all.push("--".to_owned());
    all.push(program.to_owned());
    all.extend(args.iter().cloned());
    (entry.unshare.display().to_string(), all)
}

/// Errors when `path` cannot be an overlay layer or bind: `,` `:` or a
/// newline (overlayfs' option syntax), or not valid UTF-8.
pub fn check_mountable(path: &Path, what: &str) -> anyhow::Result<()> {
    let Some(text) = path.to_str() else {
        bail!("{what} {}: not valid UTF-8", path.display());
    };
    if text.contains([',', ':', '\n']) {
        bail!("{what} {text:?}: a path with ',' ':' or a newline cannot be mounted; choose another directory");
    }
    Ok(())
}

/// The full version of the chroot's python3, by running it.
pub fn python_version(entry: &Entry<'_>) -> anyhow::Result<String> {
    let out = run_inside(
        entry,
        "python3",
        &["-c", "import platform; print(platform.python_version())"],
    )?;
    let version = out.trim();
    if version.is_empty() || !version.split('.').all(|p| p.parse::<u32>().is_ok()) {
        bail!(
            "{}: python3 printed {version:?} as its version",
            entry.base.display()
        );
    }
    Ok(version.to_owned())
}

/// Runs a query inside the chroot (no binds, cwd `/`) and returns its
/// standard output.
pub fn run_inside(entry: &Entry<'_>, program: &str, args: &[&str]) -> anyhow::Result<String> {
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    let (unshare, argv) = argv(entry, &[], Path::new("/"), program, &args);
    let out = duct::cmd(&unshare, &argv)
        .full_env([("PATH", "/usr/bin:/bin"), ("LC_ALL", "C.UTF-8")])
        .stdin_null()
        .stdout_capture()
        .stderr_capture()
        .unchecked()
        .run()
        .with_context(|| format!("cannot run {unshare}"))?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        bail!(
            "{}: cannot run {program} inside ({}): {}",
            entry.base.display(),
            out.status,
            stderr.trim().replace('\n', " | ")
        );
    }
    String::from_utf8(out.stdout).with_context(|| {
        format!(
            "{program} inside {}: output not UTF-8",
            entry.base.display()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_arguments_never_script_text() {
        let entry = Entry {
            mode: Mode::Root,
            unshare: Path::new("/usr/bin/unshare"),
            mnt: Path::new("/c/x.mnt"),
            base: Path::new("/c/x/root"),
        };
        let evil = Path::new("/w/$(reboot)'\"");
        let (program, args) = argv(
            &entry,
            &[(evil, true), (Path::new("/ro"), false)],
            Path::new("/w"),
            "python3",
            &["-c".into(), "print(1)".into()],
        );
        assert_eq!(program, "/usr/bin/unshare");
        assert_eq!(&args[..7], NAMESPACES);
        assert_eq!(args[7..10], ["--", "/bin/sh", "-c"]);
        assert!(!args[10].contains("reboot"));
        assert_eq!(
            &args[11..],
            [
                "sh",
                "/c/x.mnt",
                "/c/x/root",
                "/w",
                "rw",
                "/w/$(reboot)'\"",
                "ro",
                "/ro",
                "--",
                "python3",
                "-c",
                "print(1)"
            ]
        );
        let rootless = Entry {
            mode: Mode::Rootless,
            ..entry
        };
        let (_, args) = argv(&rootless, &[], Path::new("/"), "true", &[]);
        assert_eq!(&args[..3], USERNS);
    }

    #[test]
    fn mountable_paths() {
        assert!(check_mountable(Path::new("/work/target/chroots/x"), "chroot").is_ok());
        for bad in ["/a,b", "/a:b", "/a\nb"] {
            let err = check_mountable(Path::new(bad), "chroot")
                .unwrap_err()
                .to_string();
            assert!(err.contains("cannot be mounted"), "{err}");
        }
    }
}
