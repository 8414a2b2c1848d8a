//! The setup action (setup/) takes the Docker action's inputs under the same names: its
//! metadata is generated from action.yml by ci/setup-action.py. This holds every change to
//! action.yml's inputs to a regenerated setup/action.yml at `cargo test` time, not only in the
//! packaging suites of .ci/run.

use std::path::Path;
use std::process::Command;

#[test]
fn the_setup_action_carries_the_docker_actions_inputs() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = Command::new("python3")
        .arg(root.join("ci/setup-action.py"))
        .arg("--check")
        .current_dir(root)
        .output()
        .expect("python3 runs (ci/install-tools.sh installs it with PyYAML)");
    assert!(
        out.status.success(),
        "{}{}\nrun: python3 ci/setup-action.py --write, and commit setup/action.yml",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
