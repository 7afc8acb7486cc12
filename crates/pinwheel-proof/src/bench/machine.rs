//! The machine a benchmark ran on: cores, CPU model (`/proc/cpuinfo`),
//! memory (`/proc/meminfo`) and kernel. Parsing is pure; `Machine::probe`
//! reads the files.

use std::fmt;

/// What BENCHMARKS.md says about the machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Machine {
    /// Cores this process may use (`available_parallelism`).
    pub cores: usize,
    /// `model name` of the first processor, or "unknown".
    pub cpu_model: String,
    /// Whether the CPU advertises the SHA extensions (`sha_ni`).
    pub sha_ni: bool,
    /// `MemTotal`, in bytes.
    pub memory_bytes: Option<u64>,
    /// `/proc/sys/kernel/osrelease`.
    pub kernel: Option<String>,
}

impl Machine {
    /// Reads the running machine's description. Missing files leave
    /// "unknown" fields rather than failing the benchmark.
    pub fn probe() -> Machine {
        let cpuinfo = fs_err::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let meminfo = fs_err::read_to_string("/proc/meminfo").unwrap_or_default();
        let kernel = fs_err::read_to_string("/proc/sys/kernel/osrelease")
            .ok()
            .map(|s| s.trim().to_owned());
        Machine {
            cores: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1),
            cpu_model: cpu_model(&cpuinfo).unwrap_or_else(|| "unknown".to_owned()),
            sha_ni: cpu_flags(&cpuinfo).contains(&"sha_ni"),
            memory_bytes: mem_total(&meminfo),
            kernel,
        }
    }
}

impl fmt::Display for Machine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} cores, {}", self.cores, self.cpu_model)?;
        if self.sha_ni {
            f.write_str(" (SHA extensions)")?;
        }
        if let Some(mem) = self.memory_bytes {
            write!(f, ", {:.1} GiB RAM", mem as f64 / (1u64 << 30) as f64)?;
        }
        if let Some(kernel) = &self.kernel {
            write!(f, ", Linux {kernel}")?;
        }
        Ok(())
    }
}

/// The first `model name` in a `/proc/cpuinfo` text.
pub fn cpu_model(cpuinfo: &str) -> Option<String> {
    field(cpuinfo, "model name").map(|s| s.split_whitespace().collect::<Vec<_>>().join(" "))
}

/// The first processor's `flags`.
pub fn cpu_flags(cpuinfo: &str) -> Vec<&str> {
    field(cpuinfo, "flags")
        .map(|s| s.split_whitespace().collect())
        .unwrap_or_default()
}

fn field<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    text.lines().find_map(|line| {
        let (k, v) = line.split_once(':')?;
        (k.trim() == key).then(|| v.trim())
    })
}

/// `MemTotal` from a `/proc/meminfo` text, in bytes.
pub fn mem_total(meminfo: &str) -> Option<u64> {
    let value = field(meminfo, "MemTotal")?;
    let mut parts = value.split_whitespace();
    let n: u64 = parts.next()?.parse().ok()?;
    match parts.next() {
        Some("kB") => Some(n * 1024),
        None => Some(n),
        Some(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CPUINFO: &str = "processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC   7B13 64-Core Processor\nflags\t\t: fpu sse2 sha_ni avx2\n\nprocessor\t: 1\nmodel name\t: AMD EPYC 7B13 64-Core Processor\n";

    #[test]
    fn parses_cpuinfo() {
        assert_eq!(
            cpu_model(CPUINFO).as_deref(),
            Some("AMD EPYC 7B13 64-Core Processor")
        );
        assert!(cpu_flags(CPUINFO).contains(&"sha_ni"));
        assert_eq!(cpu_model("processor : 0\n"), None);
    }

    #[test]
    fn parses_meminfo() {
        assert_eq!(
            mem_total("MemTotal:       24570000 kB\nMemFree: 1 kB\n"),
            Some(24_570_000 * 1024)
        );
        assert_eq!(mem_total("MemFree: 1 kB\n"), None);
    }

    #[test]
    fn displays() {
        let m = Machine {
            cores: 2,
            cpu_model: "AMD EPYC".into(),
            sha_ni: true,
            memory_bytes: Some(24 << 30),
            kernel: Some("6.1.0".into()),
        };
        assert_eq!(
            m.to_string(),
            "2 cores, AMD EPYC (SHA extensions), 24.0 GiB RAM, Linux 6.1.0"
        );
    }
}
