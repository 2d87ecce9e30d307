//! A real single-node Slurm cluster for a test (`deploy/slurm/local-cluster.sh` in a directory
//! of its own, so tests and a user's own cluster never share daemons or ports), taken down when
//! the guard drops, whether the test passed or panicked.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use super::repo;

pub struct Cluster {
    dir: tempfile::TempDir,
    conf: PathBuf,
}

impl Cluster {
    /// Installs the Slurm packages if missing (`scripts/setup.sh`), generates the cluster's
    /// configuration and starts munged, slurmctld and slurmd; returns once the node is idle.
    pub fn up() -> Cluster {
        let setup = repo().join("scripts/setup.sh");
        assert!(Command::new("bash").arg(setup).status().unwrap().success(), "scripts/setup.sh");
        let dir = tempfile::tempdir().unwrap();
        let cluster = Cluster { conf: dir.path().join("etc/slurm.conf"), dir };
        let out = cluster.local_cluster("up");
        assert!(
            out.status.success(),
            "local-cluster.sh up: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        cluster
    }

    fn local_cluster(&self, what: &str) -> Output {
        Command::new("bash")
            .arg(repo().join("deploy/slurm/local-cluster.sh"))
            .arg(what)
            .env("ABMARK_SLURM_DIR", self.dir.path())
            .output()
            .unwrap()
    }

    /// A command that talks to this cluster (`SLURM_CONF`) and whose jobs run the `abmark`
    /// under test (`ABMARK_BIN`).
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut c = Command::new(program);
        c.env("SLURM_CONF", &self.conf).env("ABMARK_BIN", env!("CARGO_BIN_EXE_abmark"));
        c
    }

    /// `bash deploy/slurm/SCRIPT args...` against this cluster.
    pub fn script(&self, script: &str, args: &[&str]) -> Command {
        let mut c = self.command("bash");
        c.arg(repo().join("deploy/slurm").join(script)).args(args);
        c
    }

    /// `squeue -h -o FORMAT` lines (the jobs Slurm still lists).
    pub fn squeue(&self, format: &str) -> Vec<String> {
        let out = self.command("squeue").args(["-h", "-o", format]).output().unwrap();
        assert!(out.status.success(), "squeue: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).lines().map(str::to_owned).collect()
    }

    /// The cluster's directory (configuration, logs, state).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let out = self.local_cluster("down");
        if !out.status.success() {
            // Drop runs during a panic too: report, never panic twice.
            eprintln!("local-cluster.sh down: {}", String::from_utf8_lossy(&out.stderr));
        }
    }
}
