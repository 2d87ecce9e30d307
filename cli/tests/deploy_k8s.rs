//! The Kubernetes recipes and the container image recipe, checked with what runs here (no
//! cluster, no container engine): every manifest of `deploy/k8s/` against the Kubernetes
//! 1.33 schemas in strict mode (kubernetes-validate, which ships them: no network), the
//! project's own rules for them (`deploy/k8s/check-manifests.py`: non-root, resources, the key
//! Secret 0400 and read-only, Indexed Jobs' N consistent, RWX volume), the Indexed Jobs as
//! `deploy/k8s/run.sh render` sets N, and `deploy/Dockerfile` through hadolint. The linters
//! come pinned from `scripts/tools.sh k8s`.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{repo, tool};

/// The Kubernetes release the manifests are validated against.
const KUBERNETES: &str = "1.33.0";

fn manifests() -> Vec<PathBuf> {
    let dir = repo().join("deploy/k8s");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    files
}

fn run(program: &Path, args: &[&Path]) -> Output {
    Command::new(program).args(args).output().unwrap()
}

fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

/// kubernetes-validate --strict on `files`: its output, and whether all passed.
fn validate(bin: &Path, files: &[PathBuf]) -> (bool, String) {
    let out = Command::new(bin.join("kubernetes-validate"))
        .args(["--strict", "--kubernetes-version", KUBERNETES])
        .args(files)
        .output()
        .unwrap();
    (out.status.success(), text(&out))
}

fn policy(bin: &Path, files: &[PathBuf]) -> (bool, String) {
    let out = Command::new(bin.join("python"))
        .arg(repo().join("deploy/k8s/check-manifests.py"))
        .args(files)
        .output()
        .unwrap();
    (out.status.success(), text(&out))
}

#[test]
fn kubernetes_manifests_validate_and_keep_the_rules() {
    let bin = tool("k8s");
    let files = manifests();
    let names: Vec<String> =
        files.iter().map(|f| f.file_name().unwrap().to_string_lossy().into_owned()).collect();
    for needed in ["pvc.yaml", "variants-job.yaml", "assemble-job.yaml", "detect-job.yaml"] {
        assert!(names.iter().any(|n| n == needed), "deploy/k8s/{needed} missing: {names:?}");
    }
    let (ok, out) = validate(&bin, &files);
    assert!(ok, "kubernetes-validate:\n{out}");
    for name in &names {
        assert!(
            out.lines().any(|l| l.contains(name.as_str()) && l.contains("passed")),
            "{name} not reported as passed:\n{out}"
        );
    }
    let (ok, out) = policy(&bin, &files);
    assert!(ok, "check-manifests.py:\n{out}");
    assert_eq!(out.trim(), format!("ok {}", files.len()), "one resource per file");

    // The variants Job is the Indexed one the issue asks for: the chunk index from the Job
    // controller, the key from the Secret.
    let variants = std::fs::read_to_string(repo().join("deploy/k8s/variants-job.yaml")).unwrap();
    for needed in ["completionMode: Indexed", "$(JOB_COMPLETION_INDEX)/$(CHUNKS)", "secretName"] {
        assert!(variants.contains(needed), "variants-job.yaml lacks {needed}");
    }

    // The validators bite: an unknown field, a wrong type and a readable key are refused.
    let dir = tempfile::tempdir().unwrap();
    let broken = [
        (
            "unknown-field.yaml",
            "completionMode: Indexed",
            "completionMode: Indexed\n  completionz: 3",
        ),
        ("wrong-type.yaml", "  parallelism: 8", "  parallelism: eight"),
    ];
    for (name, from, to) in broken {
        let file = dir.path().join(name);
        std::fs::write(&file, variants.replacen(from, to, 1)).unwrap();
        let (ok, out) = validate(&bin, &[file]);
        assert!(!ok && out.contains("did not validate"), "{name} accepted:\n{out}");
    }
    let file = dir.path().join("readable-key.yaml");
    std::fs::write(&file, variants.replace("defaultMode: 0400", "defaultMode: 0444")).unwrap();
    let (ok, out) = policy(&bin, &[file]);
    assert!(!ok && out.contains("mode 0444"), "a group-readable key accepted:\n{out}");
}

#[test]
fn run_sh_renders_indexed_jobs_that_still_validate() {
    let bin = tool("k8s");
    let dir = tempfile::tempdir().unwrap();
    let mut rendered = Vec::new();
    for (job, n, parallel, var) in
        [("variants", 5, 3, "CHUNKS"), ("bench-cells", 12, 4, "TASKS"), ("detect", 40, 8, "")]
    {
        let out = Command::new("bash")
            .arg(repo().join("deploy/k8s/run.sh"))
            .args(["render", job, &n.to_string(), &parallel.to_string()])
            .output()
            .unwrap();
        assert!(out.status.success(), "run.sh render {job}: {}", text(&out));
        let yaml = String::from_utf8(out.stdout).unwrap();
        assert!(yaml.contains(&format!("\n  completions: {n}\n")), "{job}: completions\n{yaml}");
        assert!(yaml.contains(&format!("\n  parallelism: {parallel}\n")), "{job}: parallelism");
        if !var.is_empty() {
            assert!(yaml.contains(&format!("{{name: {var}, value: \"{n}\"}}")), "{job}: {var}");
        }
        let file = dir.path().join(format!("{job}.yaml"));
        std::fs::write(&file, yaml).unwrap();
        rendered.push(file);
    }
    let (ok, out) = validate(&bin, &rendered);
    assert!(ok, "rendered jobs:\n{out}");
    let (ok, out) = policy(&bin, &rendered);
    assert!(ok, "rendered jobs:\n{out}");

    let out = Command::new("bash")
        .arg(repo().join("deploy/k8s/run.sh"))
        .args(["variants", "0"])
        .output()
        .unwrap();
    assert!(!out.status.success(), "N = 0 accepted");
    assert!(text(&out).contains("N must be a positive integer"), "{}", text(&out));
}

#[test]
fn the_dockerfile_passes_hadolint_and_runs_as_non_root_on_pinned_bases() {
    let bin = tool("k8s");
    let dockerfile = repo().join("deploy/Dockerfile");
    let out = run(&bin.join("hadolint"), &[&dockerfile]);
    assert!(out.status.success(), "hadolint deploy/Dockerfile:\n{}", text(&out));

    let text = std::fs::read_to_string(&dockerfile).unwrap();
    // Base images: ARG defaults with an exact version, never a floating tag.
    let bases: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("ARG ").and_then(|a| a.split_once("_IMAGE=")))
        .map(|(_, image)| image)
        .collect();
    assert_eq!(bases.len(), 2, "a build and a runtime base image: {bases:?}");
    for image in &bases {
        let tag = image.split_once(':').map(|(_, t)| t).unwrap_or("");
        assert!(
            tag.chars().next().is_some_and(|c| c.is_ascii_digit()) && tag.contains('.'),
            "{image}: not pinned to a version"
        );
    }
    assert!(text.lines().filter(|l| l.starts_with("FROM ")).count() == 2, "multi-stage");
    let user = text.lines().rfind(|l| l.starts_with("USER ")).expect("a USER line");
    assert!(!user.contains(" 0") && !user.contains("root"), "runs as {user}");
}
