//! The generated documents in `docs/` must match the contract.

#[test]
fn docs_are_current() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    for (path, want) in hsm_contract::docs::all() {
        let have = std::fs::read_to_string(root.join(path)).unwrap_or_default();
        assert!(
            have == want,
            "{path} is stale: run `cargo run -p hsm-contract --bin gen-docs` and commit the result"
        );
    }
}
