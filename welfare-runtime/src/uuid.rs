//! Identifiers the services assign: UUIDs (the catalogue's records, as Open Referral HSDS requires;
//! the wallet's plans, holds and transfers).
//!
//! New providers and listings get a version 7 UUID (time-ordered, even within a millisecond,
//! so keyset pages run in creation order); records derived from them in the open-data export get a version 8 UUID
//! computed from the parent's id and a name, so the same catalogue always exports the same ids.

/// A new version 7 UUID (RFC 9562), from the `uuid` crate: 48 bits of milliseconds since the
/// epoch, then a counter that keeps the ids of one process strictly increasing within a
/// millisecond, then random bits.
pub fn new_uuid() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// A version 8 UUID derived from `parent` and `name` (FNV-1a, two independent 64-bit halves):
/// stable across runs and machines.
pub fn derived_uuid(parent: &str, name: &str) -> String {
    let half = |seed: u64| {
        let mut hash = seed;
        for byte in parent.bytes().chain([0]).chain(name.bytes()) {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
        hash
    };
    let high = (half(0xcbf2_9ce4_8422_2325) & !0xf000) | 0x8000;
    let low = (half(0x6c62_272e_07bb_0142) & 0x3fff_ffff_ffff_ffff) | 0x8000_0000_0000_0000;
    format_uuid(high, low)
}

fn format_uuid(high: u64, low: u64) -> String {
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        high >> 32,
        (high >> 16) & 0xffff,
        high & 0xffff,
        low >> 48,
        low & 0xffff_ffff_ffff
    )
}

/// Whether `text` has the canonical UUID shape (8-4-4-4-12 lowercase hex digits).
pub fn is_uuid(text: &str) -> bool {
    let groups: Vec<&str> = text.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(group, len)| group.len() == len && group.bytes().all(|b| b.is_ascii_hexdigit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_ids_are_unique_version_7_uuids_in_time_order() {
        let ids: Vec<String> = (0..10_000).map(|_| new_uuid()).collect();
        let unique: std::collections::HashSet<&String> = ids.iter().collect();
        assert_eq!(unique.len(), ids.len());
        for id in &ids {
            assert!(is_uuid(id), "{id}");
            assert_eq!(id.as_bytes()[14], b'7', "{id}");
            assert!(
                matches!(id.as_bytes()[19], b'8' | b'9' | b'a' | b'b'),
                "{id}"
            );
        }
        // In the order they were made, though thousands share a millisecond.
        assert!(
            ids.windows(2).all(|pair| pair[0] < pair[1]),
            "ids made one after the other sort in that order"
        );
        let first = new_uuid();
        std::thread::sleep(std::time::Duration::from_millis(2));
        assert!(new_uuid() > first);
    }

    #[test]
    fn derived_ids_are_stable_and_distinct() {
        let a = derived_uuid("0190f0e8-0000-7000-8000-000000000001", "location");
        assert_eq!(
            a,
            derived_uuid("0190f0e8-0000-7000-8000-000000000001", "location")
        );
        assert_ne!(
            a,
            derived_uuid("0190f0e8-0000-7000-8000-000000000001", "schedule-0")
        );
        assert!(is_uuid(&a));
        assert_eq!(a.as_bytes()[14], b'8');
    }
}
