//! The OS sandbox every agent, hook and gate command runs in (`[sandbox]`).
//!
//! On Linux, Landlock limits what the command and everything it starts may **write** to: the
//! command's working directory (the run's checkout, or the base export a gate runs in), a
//! private temporary directory (`TMPDIR`), a few device files (`/dev/null`, terminals) and the
//! configured `writable` paths (toolchain caches). Reading and executing stay open. With
//! `network = "deny"`, TCP connects and binds are refused too (Landlock ABI 4 and later).
//! Resource limits (`max_memory`, `max_processes`, `max_file_size`) are set with `setrlimit`.
//! Where Landlock is missing, bubblewrap (`bwrap`) gives the same write limits through a
//! read-only bind of `/` when it is installed; otherwise the command runs unconfined and bosun
//! says so loudly (run log, console header, `bosun doctor`) — never silently.
//!
//! The sandbox cannot stop what it allows: an agent with network access can send what it reads
//! anywhere, and it can read every file the operator can.

use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use crate::config::{NetworkAccess, SandboxConfig, SandboxMode};

/// Devices a command may write to whatever the sandbox (output discarded, terminals).
const DEVICES: [&str; 9] = [
    "/dev/null",
    "/dev/zero",
    "/dev/full",
    "/dev/random",
    "/dev/urandom",
    "/dev/tty",
    "/dev/ptmx",
    "/dev/pts",
    "/dev/shm",
];

/// How commands are confined, as resolved on this machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Confinement {
    /// No confinement: `mode = "off"`, or nothing to confine with (see [`Sandbox::reason`]).
    #[default]
    Off,
    /// Landlock, with the kernel's ABI version.
    Landlock(i32),
    /// bubblewrap, at this path.
    Bwrap,
}

/// The sandbox for one kind of command (agents and hooks, or gates): how it confines, what
/// it lets the command write and whether it may use TCP. The command's working directory and
/// private `TMPDIR` are added when it starts.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Sandbox {
    /// How commands are confined.
    pub confinement: Confinement,
    /// Why confinement is off when it is (shown to the operator), or empty.
    pub reason: String,
    /// The operator asked for no sandbox (`mode = "off"`): off, but not a fault.
    pub off_by_choice: bool,
    /// Paths the command may write beneath, besides its working directory and temp dir.
    pub writable: Vec<PathBuf>,
    /// Whether TCP connects and binds are allowed.
    pub network: bool,
    /// Resource limits (bytes of address space, processes of the user, bytes of one file).
    pub max_memory: Option<u64>,
    /// See `max_memory`.
    pub max_processes: Option<u64>,
    /// See `max_memory`.
    pub max_file_size: Option<u64>,
    /// bubblewrap's path, for [`Confinement::Bwrap`].
    pub bwrap: Option<PathBuf>,
}

/// The Landlock ABI version the kernel supports; `None` when it has no Landlock.
pub fn landlock_abi() -> Option<i32> {
    // SAFETY: landlock_create_ruleset(NULL, 0, LANDLOCK_CREATE_RULESET_VERSION) only returns
    // the ABI version (or an error); it reads and writes no memory.
    let version = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            std::ptr::null::<libc::c_void>(),
            0usize,
            1u32,
        )
    };
    i32::try_from(version).ok().filter(|v| *v >= 1)
}

/// `bwrap` on `PATH`, if installed.
fn find_bwrap() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join("bwrap"))
        .find(|p| p.is_file())
}

/// `~` or `~/…` expanded with `$HOME`; other paths as they are.
pub(crate) fn expand_home(path: &str) -> PathBuf {
    let home = std::env::var_os("HOME").map(PathBuf::from);
    match (path.strip_prefix('~'), home) {
        (Some(""), Some(home)) => home,
        (Some(rest), Some(home)) if rest.starts_with('/') => home.join(&rest[1..]),
        _ => PathBuf::from(path),
    }
}

pub use crate::config::values::parse_size;

/// Why agents would run without a sandbox under `config`, when they would (front ends warn).
pub fn warning(config: &crate::config::SandboxConfig) -> Option<String> {
    let sandbox = Sandbox::from_config(config, &[]);
    (sandbox.confinement == Confinement::Off).then(|| sandbox.describe())
}

impl Sandbox {
    /// The sandboxes for agents (and hooks) and for gates from `[sandbox]`, resolved on this
    /// machine: which confinement is available, `~` expanded, sizes parsed. `executor_writable`
    /// are the agent's own extra writable paths (its preset's state directories).
    pub fn from_config(config: &SandboxConfig, executor_writable: &[String]) -> Self {
        Self::resolve(config, executor_writable, landlock_abi(), find_bwrap())
    }

    /// [`Sandbox::from_config`] for the gates: the gates' network setting, no agent paths.
    pub fn for_gates(config: &SandboxConfig) -> Self {
        let mut sandbox = Self::from_config(config, &[]);
        sandbox.network = config.gates_network.unwrap_or(config.network) == NetworkAccess::Allow;
        sandbox
    }

    fn resolve(
        config: &SandboxConfig,
        executor_writable: &[String],
        abi: Option<i32>,
        bwrap: Option<PathBuf>,
    ) -> Self {
        let (confinement, reason) = match (config.mode, abi, &bwrap) {
            (SandboxMode::Off, _, _) => (Confinement::Off, "[sandbox] mode = \"off\"".to_string()),
            (SandboxMode::Auto | SandboxMode::Landlock, Some(v), _) => {
                (Confinement::Landlock(v), String::new())
            }
            (SandboxMode::Auto | SandboxMode::Bwrap, None, Some(_))
            | (SandboxMode::Bwrap, Some(_), Some(_)) => (Confinement::Bwrap, String::new()),
            (SandboxMode::Landlock, None, _) => (
                Confinement::Off,
                "[sandbox] mode = \"landlock\", but this kernel has no Landlock".to_string(),
            ),
            (SandboxMode::Bwrap, _, None) => (
                Confinement::Off,
                "[sandbox] mode = \"bwrap\", but bubblewrap (bwrap) is not installed".to_string(),
            ),
            (SandboxMode::Auto, None, None) => (
                Confinement::Off,
                "this kernel has no Landlock and bubblewrap (bwrap) is not installed".to_string(),
            ),
        };
        let writable = config
            .writable
            .iter()
            .chain(executor_writable)
            .map(|p| expand_home(p))
            .collect();
        Self {
            confinement,
            reason,
            off_by_choice: config.mode == SandboxMode::Off,
            writable,
            network: config.network == NetworkAccess::Allow,
            // Validated when the config was loaded.
            max_memory: parse_size(&config.max_memory).ok().flatten(),
            max_processes: (config.max_processes > 0).then_some(config.max_processes),
            max_file_size: parse_size(&config.max_file_size).ok().flatten(),
            bwrap,
        }
    }

    /// One line for the operator: what confines commands, or why nothing does.
    pub fn describe(&self) -> String {
        let net = if self.network {
            "network allowed"
        } else {
            "TCP denied"
        };
        match self.confinement {
            Confinement::Landlock(v) => format!(
                "landlock (ABI {v}): writes only to the run's checkout, its temp dir and {} configured path(s); {net}",
                self.writable.len()
            ),
            Confinement::Bwrap => format!(
                "bubblewrap: / read-only except the run's checkout, its temp dir and {} configured path(s); {net}",
                self.writable.len()
            ),
            Confinement::Off => format!("OFF — {}: agents can write anywhere you can", self.reason),
        }
    }

    /// Whether confinement is off for a reason other than the operator's `mode = "off"`.
    pub fn degraded(&self) -> bool {
        self.confinement == Confinement::Off && !self.off_by_choice
    }

    /// What a command in `cwd` with temp dir `tmp` may write beneath.
    fn writable_for(&self, cwd: &Path, tmp: &Path) -> Vec<PathBuf> {
        let mut paths = vec![cwd.to_path_buf(), tmp.to_path_buf()];
        paths.extend(self.writable.iter().cloned());
        paths.extend(DEVICES.iter().map(PathBuf::from));
        paths
    }

    /// `argv` as it must be started: under bubblewrap, the `bwrap` command line around it.
    pub(crate) fn wrap_argv(&self, argv: &[String], cwd: &Path, tmp: &Path) -> Vec<String> {
        let (Confinement::Bwrap, Some(bwrap)) = (self.confinement, &self.bwrap) else {
            return argv.to_vec();
        };
        let mut out = vec![
            bwrap.display().to_string(),
            "--ro-bind".into(),
            "/".into(),
            "/".into(),
            "--dev-bind".into(),
            "/dev".into(),
            "/dev".into(),
            "--proc".into(),
            "/proc".into(),
        ];
        for path in self.writable_for(cwd, tmp) {
            if path.starts_with("/dev") || !path.exists() {
                continue;
            }
            let p = path.display().to_string();
            out.extend(["--bind".into(), p.clone(), p]);
        }
        if !self.network {
            out.push("--unshare-net".into());
        }
        out.push("--chdir".into());
        out.push(cwd.display().to_string());
        out.push("--".into());
        out.extend(argv.iter().cloned());
        out
    }

    /// What the child must do between fork and exec: the prepared Landlock ruleset (built
    /// here, in the parent) and the resource limits.
    pub(crate) fn prepare(&self, cwd: &Path, tmp: &Path) -> Result<Restrictions, String> {
        let ruleset = match self.confinement {
            Confinement::Landlock(_) => Some(self.landlock_ruleset(cwd, tmp)?),
            Confinement::Off | Confinement::Bwrap => None,
        };
        Ok(Restrictions {
            ruleset,
            limits: [
                (libc::RLIMIT_AS, self.max_memory),
                (libc::RLIMIT_NPROC, self.max_processes),
                (libc::RLIMIT_FSIZE, self.max_file_size),
            ],
        })
    }

    fn landlock_ruleset(&self, cwd: &Path, tmp: &Path) -> Result<OwnedFd, String> {
        use landlock::{
            ABI, AccessFs, AccessNet, CompatLevel, Compatible, Ruleset, RulesetAttr,
            RulesetCreatedAttr, path_beneath_rules,
        };
        let abi = ABI::V7;
        let fail = |e: landlock::RulesetError| format!("cannot set up the Landlock sandbox: {e}");
        let mut ruleset = Ruleset::default()
            .set_compatibility(CompatLevel::BestEffort)
            .handle_access(AccessFs::from_write(abi))
            .map_err(fail)?;
        if !self.network {
            ruleset = ruleset
                .handle_access(AccessNet::BindTcp | AccessNet::ConnectTcp)
                .map_err(fail)?;
        }
        let created = ruleset
            .create()
            .map_err(fail)?
            .add_rules(path_beneath_rules(
                self.writable_for(cwd, tmp),
                AccessFs::from_write(abi),
            ))
            .map_err(fail)?;
        let fd: Option<OwnedFd> = created.into();
        fd.ok_or_else(|| "this kernel has no Landlock".to_string())
    }
}

/// A command's restrictions, ready to apply in the child after fork (nothing left to allocate).
#[derive(Debug)]
pub(crate) struct Restrictions {
    ruleset: Option<OwnedFd>,
    limits: [(libc::__rlimit_resource_t, Option<u64>); 3],
}

impl Restrictions {
    /// Applies the resource limits and the Landlock ruleset to the calling process. Runs in the
    /// child between fork and exec, so it only makes system calls.
    pub(crate) fn apply(&self) -> std::io::Result<()> {
        for (resource, limit) in self.limits {
            if let Some(value) = limit {
                let rlim = libc::rlimit {
                    rlim_cur: value,
                    rlim_max: value,
                };
                // SAFETY: setrlimit reads the struct we pass; no other memory is touched.
                if unsafe { libc::setrlimit(resource, &rlim) } != 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
        }
        if let Some(fd) = &self.ruleset {
            // SAFETY: prctl and landlock_restrict_self take plain integers; the ruleset fd is
            // open (owned by `self`) until exec closes it (it is close-on-exec).
            unsafe {
                if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                if libc::syscall(libc::SYS_landlock_restrict_self, fd.as_raw_fd(), 0u32) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(mode: SandboxMode) -> SandboxConfig {
        SandboxConfig {
            mode,
            ..SandboxConfig::default()
        }
    }

    #[test]
    fn sizes_parse_with_binary_units() {
        assert_eq!(parse_size(""), Ok(None));
        assert_eq!(parse_size("0"), Ok(None));
        assert_eq!(parse_size("4096"), Ok(Some(4096)));
        assert_eq!(parse_size("512M"), Ok(Some(512 << 20)));
        assert_eq!(parse_size("4G"), Ok(Some(4 << 30)));
        assert_eq!(parse_size("2GiB"), Ok(Some(2 << 30)));
        assert_eq!(parse_size("1k"), Ok(Some(1024)));
        assert!(parse_size("lots").is_err());
        assert!(parse_size("4X").is_err());
        assert!(parse_size("99999999999T").is_err());
    }

    #[test]
    fn auto_prefers_landlock_then_bwrap_and_never_degrades_silently() {
        let bwrap = Some(PathBuf::from("/usr/bin/bwrap"));
        let auto = config(SandboxMode::Auto);
        let s = Sandbox::resolve(&auto, &[], Some(7), bwrap.clone());
        assert_eq!(s.confinement, Confinement::Landlock(7));
        assert!(!s.degraded());
        let s = Sandbox::resolve(&auto, &[], None, bwrap.clone());
        assert_eq!(s.confinement, Confinement::Bwrap);
        let s = Sandbox::resolve(&auto, &[], None, None);
        assert_eq!(s.confinement, Confinement::Off);
        assert!(s.degraded());
        assert!(
            s.describe()
                .starts_with("OFF — this kernel has no Landlock"),
            "{}",
            s.describe()
        );
        let s = Sandbox::resolve(&config(SandboxMode::Landlock), &[], None, bwrap);
        assert!(s.degraded(), "asked for Landlock, none here");
        let s = Sandbox::resolve(&config(SandboxMode::Off), &[], Some(7), None);
        assert_eq!(s.confinement, Confinement::Off);
        assert!(
            !s.degraded(),
            "off by choice is shown as off, not as a fault"
        );
        assert!(s.describe().contains("mode = \"off\""));
    }

    #[test]
    fn home_paths_expand_and_the_agents_own_paths_are_added() {
        let home = std::env::var("HOME").unwrap_or_default();
        let mut c = config(SandboxMode::Auto);
        c.writable = vec!["~/.cargo/registry".into(), "/opt/cache".into()];
        let s = Sandbox::resolve(&c, &["~/.claude".into()], Some(7), None);
        assert_eq!(
            s.writable,
            [
                Path::new(&home).join(".cargo/registry"),
                PathBuf::from("/opt/cache"),
                Path::new(&home).join(".claude"),
            ]
        );
    }

    #[test]
    fn bubblewrap_binds_only_the_writable_paths_and_can_cut_the_network() {
        let dir = tempfile::tempdir().unwrap();
        let (cwd, tmp) = (dir.path().join("run"), dir.path().join("tmp"));
        std::fs::create_dir_all(&cwd).unwrap();
        std::fs::create_dir_all(&tmp).unwrap();
        let mut c = config(SandboxMode::Bwrap);
        c.network = NetworkAccess::Deny;
        c.writable = vec![dir.path().join("missing").display().to_string()];
        let s = Sandbox::resolve(&c, &[], None, Some(PathBuf::from("/usr/bin/bwrap")));
        let argv = s.wrap_argv(&["sh".into(), "-c".into(), "true".into()], &cwd, &tmp);
        let text = argv.join(" ");
        assert!(
            text.starts_with("/usr/bin/bwrap --ro-bind / / --dev-bind /dev /dev"),
            "{text}"
        );
        assert!(
            text.contains(&format!("--bind {0} {0}", cwd.display())),
            "{text}"
        );
        assert!(
            text.contains(&format!("--bind {0} {0}", tmp.display())),
            "{text}"
        );
        assert!(
            !text.contains("missing"),
            "paths that do not exist are not bound: {text}"
        );
        assert!(text.contains("--unshare-net"), "{text}");
        assert!(text.ends_with("-- sh -c true"), "{text}");
        // Off or Landlock: the command is started as it is.
        let off = Sandbox::default();
        assert_eq!(off.wrap_argv(&["x".into()], &cwd, &tmp), ["x"]);
    }
}
