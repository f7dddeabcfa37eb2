//! Records the commit the binary was built from (for the provenance of trained models).

fn main() {
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
    };
    if let Some(commit) = git(&["rev-parse", "HEAD"]) {
        let dirty =
            git(&["status", "--porcelain", "--untracked-files=no"]).is_some_and(|s| !s.is_empty());
        let suffix = if dirty { "+uncommitted" } else { "" };
        println!("cargo:rustc-env=COMMIT_ID={commit}{suffix}");
    }
    if let Some(dir) = git(&["rev-parse", "--git-dir"]) {
        println!("cargo:rerun-if-changed={dir}/HEAD");
        println!("cargo:rerun-if-changed={dir}/index");
    }
    // An edit to the sources makes the tree dirty without touching HEAD or the index.
    for sources in ["src", "../src", "Cargo.toml", "../Cargo.toml"] {
        println!("cargo:rerun-if-changed={sources}");
    }
}
