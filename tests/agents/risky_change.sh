#!/bin/sh
# Makes a multi-file change with something for every reviewer to notice: a public function's
# signature changes, a private helper is added, a dependency is added, CI is edited, a TODO and
# an AWS access key id are added.
set -e
cat > src/lib.rs <<'RS'
/// Adds two numbers.
pub fn add(a: u32, b: u32, c: u32) -> u32 {
    a + b + c + helper()
}

fn helper() -> u32 {
    // TODO: make this configurable
    0
}
RS
cat >> Cargo.toml <<'TOML'

[dependencies]
serde = "1.0"
TOML
printf '      - run: cargo test --release\n' >> .github/workflows/ci.yml
printf 'AWS_ACCESS_KEY_ID=AKIAQYLPMN5HHHFPZAM2\n' > deploy.env
echo "changed four files"
