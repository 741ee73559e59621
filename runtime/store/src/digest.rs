//! The canonical digest of an artifact's content, `blake3:HEX`.
//!
//! This is the identity of an artifact everywhere: the runner reports it, the artifact store
//! files the artifact under it ([`crate::artifacts`]), the lineage store keys artifact rows by it
//! ([`crate::lineage`]) and cache keys are built from the digests of a step's inputs. It depends
//! on content only (type, parts, properties), never on where or when the artifact was made.
//!
//! The definition, version `mlp-artifact-v1`: BLAKE3 over
//! `"mlp-artifact-v1\0" type "\0"`, then for each part in name order
//! `name "\0table\0" len:u64le ipc-stream-bytes` or `name "\0blob\0" len:u64le bytes`, then the
//! properties as JSON (keys sorted, compact). Tables are hashed as their Arrow IPC stream
//! encoding ([`mlp_kernels::to_ipc`]), so equal schemas, batch boundaries and values give equal
//! digests. Changing any of this changes every digest in every store: bump the version tag.

use mlp_kernels::data::{ArtifactData, Part};

/// The prefix of every digest this crate makes.
pub const DIGEST_PREFIX: &str = "blake3:";

/// `blake3:HEX` over an artifact's content: its type, each part (name, kind, bytes; tables as
/// Arrow IPC streams) in name order, and its properties as canonical JSON.
///
/// Deterministic: equal content gives equal digests in any process, on any machine.
pub fn artifact_digest(a: &ArtifactData) -> String {
    let mut h = blake3::Hasher::new();
    h.update(b"mlp-artifact-v1\0");
    h.update(a.artifact_type.as_bytes());
    h.update(b"\0");
    for (name, part) in &a.parts {
        h.update(name.as_bytes());
        match part {
            Part::Table(t) => {
                // The length of the table's IPC stream, then the stream: written twice (counted,
                // then hashed) rather than held, so hashing a large table needs no copy of it.
                h.update(b"\0table\0");
                match mlp_kernels::write_ipc(t, Counter(0)) {
                    Ok(Counter(len)) => {
                        h.update(&len.to_le_bytes());
                        let _ = mlp_kernels::write_ipc(t, &mut h);
                    }
                    Err(_) => {
                        h.update(&0u64.to_le_bytes());
                    }
                }
            }
            Part::Blob(b) => {
                h.update(b"\0blob\0");
                h.update(&(b.len() as u64).to_le_bytes());
                h.update(b);
            }
        }
    }
    // `serde_json::Map` is a BTreeMap (the `preserve_order` feature is off in this workspace;
    // a test below fails if it is ever turned on), so this JSON is canonical.
    h.update(serde_json::to_string(&a.properties).unwrap_or_default().as_bytes());
    format!("{DIGEST_PREFIX}{}", h.finalize().to_hex())
}

/// Counts the bytes written to it.
struct Counter(u64);

impl std::io::Write for Counter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 += buf.len() as u64;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The 64 lowercase hex digits of a `blake3:HEX` digest, or `None` when `digest` is not one.
/// The artifact store uses this to turn a digest into a folder name, so nothing else (no `/`,
/// no `..`) ever reaches a path.
pub fn digest_hex(digest: &str) -> Option<&str> {
    let hex = digest.strip_prefix(DIGEST_PREFIX)?;
    (hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))).then_some(hex)
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{ArrayRef, Int64Array, RecordBatch, StringArray};
    use mlp_kernels::data::Table;
    use serde_json::json;
    use std::sync::Arc;

    fn table(values: &[i64], names: &[Option<&str>]) -> Table {
        let batch = RecordBatch::try_from_iter([
            ("x", Arc::new(Int64Array::from(values.to_vec())) as ArrayRef),
            ("name", Arc::new(StringArray::from(names.to_vec())) as ArrayRef),
        ])
        .unwrap();
        Table::from_batch(batch)
    }

    fn sample() -> ArtifactData {
        let mut a = ArtifactData { artifact_type: "Examples".into(), ..Default::default() };
        a.parts.insert("train".into(), Part::Table(table(&[1, 2, 3], &[Some("a"), None, Some("c")])));
        a.parts.insert("model.bin".into(), Part::Blob(Arc::from(&b"\x00\x01weights"[..])));
        a.properties.insert("span".into(), json!(3));
        a.properties.insert("meta".into(), json!({"b": 1, "a": [1, 2]}));
        a
    }

    #[test]
    fn equal_content_gives_equal_digests() {
        let d = artifact_digest(&sample());
        assert_eq!(d, artifact_digest(&sample()));
        assert_eq!(d.len(), DIGEST_PREFIX.len() + 64);
        assert!(digest_hex(&d).is_some());
        // Built in another order, the same content: same digest.
        let mut b = ArtifactData { artifact_type: "Examples".into(), ..Default::default() };
        b.properties.insert("meta".into(), serde_json::from_str(r#"{"a": [1, 2], "b": 1}"#).unwrap());
        b.properties.insert("span".into(), json!(3));
        b.parts.insert("model.bin".into(), Part::Blob(Arc::from(&b"\x00\x01weights"[..])));
        b.parts.insert("train".into(), Part::Table(table(&[1, 2, 3], &[Some("a"), None, Some("c")])));
        assert_eq!(d, artifact_digest(&b));
    }

    #[test]
    fn any_change_changes_the_digest() {
        let base = artifact_digest(&sample());
        let mut variants: Vec<ArtifactData> = Vec::new();
        let mut v = sample();
        v.artifact_type = "Model".into();
        variants.push(v);
        let mut v = sample();
        v.parts.insert("train".into(), Part::Table(table(&[1, 2, 4], &[Some("a"), None, Some("c")])));
        variants.push(v);
        let mut v = sample();
        v.parts.insert("train".into(), Part::Table(table(&[1, 2, 3], &[Some("a"), Some(""), Some("c")])));
        variants.push(v);
        let mut v = sample();
        let p = v.parts.remove("train").unwrap();
        v.parts.insert("train2".into(), p);
        variants.push(v);
        let mut v = sample();
        v.parts.insert("model.bin".into(), Part::Blob(Arc::from(&b"\x00\x01weightz"[..])));
        variants.push(v);
        let mut v = sample();
        v.properties.insert("span".into(), json!(4));
        variants.push(v);
        let mut v = sample();
        v.properties.insert("span2".into(), json!(3));
        variants.push(v);
        let mut v = sample();
        v.parts.remove("model.bin");
        variants.push(v);
        let mut digests: Vec<String> = variants.iter().map(artifact_digest).collect();
        for d in &digests {
            assert_ne!(d, &base);
        }
        digests.sort();
        digests.dedup();
        assert_eq!(digests.len(), variants.len(), "two different contents gave one digest");
    }

    #[test]
    fn a_blob_and_a_table_with_the_same_name_differ() {
        let mut a = ArtifactData { artifact_type: "T".into(), ..Default::default() };
        a.parts.insert("p".into(), Part::Blob(Arc::from(mlp_kernels::to_ipc(&table(&[1], &[None])).unwrap())));
        let mut b = ArtifactData { artifact_type: "T".into(), ..Default::default() };
        b.parts.insert("p".into(), Part::Table(table(&[1], &[None])));
        assert_ne!(artifact_digest(&a), artifact_digest(&b));
    }

    /// The definition is shared with every store on disk: a change must be deliberate (bump the
    /// `mlp-artifact-v1` tag and this value together). Tables are hashed as arrow's IPC encoding, so an
    /// arrow upgrade that changes those bytes fails here too: such an upgrade invalidates caches.
    #[test]
    fn the_definition_is_pinned() {
        assert_eq!(
            artifact_digest(&sample()),
            "blake3:111873f6f8f5c99330a038d392d0adae436e1448ca532a17836c0c21d059325c"
        );
        let empty = ArtifactData::default();
        assert_eq!(artifact_digest(&empty), format!("blake3:{}", blake3::hash(b"mlp-artifact-v1\0\0{}").to_hex()));
    }

    #[test]
    fn digest_hex_accepts_only_well_formed_digests() {
        let hex = "0123456789abcdef".repeat(4);
        assert_eq!(digest_hex(&format!("blake3:{hex}")), Some(hex.as_str()));
        assert_eq!(digest_hex(&hex), None);
        assert_eq!(digest_hex(&format!("blake3:{}", hex.to_uppercase())), None);
        assert_eq!(digest_hex(&format!("blake3:{}", &hex[1..])), None);
        assert_eq!(digest_hex(&format!("blake3:../{}", &hex[3..])), None);
    }
}
