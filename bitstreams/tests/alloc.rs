//! Oversized length fields are refused before anything is allocated for
//! them: decoding a package whose lengths claim gigabytes never makes a
//! large allocation. (Its own test binary, so that no other test allocates
//! while it measures.)

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use hsm_bitstream::{FormatError, Image, ImageEntry, Manifest, Package, Resources};

/// The system allocator, recording the largest single allocation.
struct Largest;

static LARGEST: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is forwarded unchanged to the system allocator, which
// upholds the `GlobalAlloc` contract; the only addition is an atomic
// maximum of the requested size.
unsafe impl GlobalAlloc for Largest {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LARGEST.fetch_max(layout.size(), Ordering::Relaxed);
        // SAFETY: the caller's guarantees for `alloc` are passed on as is.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` was allocated by `System` with this layout (all
        // allocations go through `alloc` above).
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LARGEST.fetch_max(new_size, Ordering::Relaxed);
        // SAFETY: the caller's guarantees for `realloc` are passed on as is.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Largest = Largest;

#[test]
fn oversized_lengths_allocate_nothing_large() {
    let image = Image {
        name: "a.bit".into(),
        data: vec![0xa5; 64],
    };
    let manifest = Manifest {
        target: "ecp5-lfe5um5g-85f".into(),
        design: "open-hsm".into(),
        design_version: "0.1.0".into(),
        build_id: 1,
        source_revision: String::new(),
        source_sha384: [0; 48],
        contract_major: 1,
        contract_minor: 0,
        security_version: 1,
        tools: Vec::new(),
        resources: Resources::default(),
        images: vec![ImageEntry::describe(&image.name, &image.data)],
    };
    let bytes = Package::new(manifest, vec![image]).unwrap().encode();
    let m_len = u32::from_le_bytes(bytes[12..16].try_into().unwrap()) as usize;
    // Header 16, manifest, signature flag, image count, name length, name.
    let size_at = 16 + m_len + 1 + 1 + 1 + 5;
    let limit = 64 * 1024;

    let cases: Vec<(usize, Vec<u8>)> = vec![
        (12, u32::MAX.to_le_bytes().to_vec()),
        (12, (16u32 << 10).to_le_bytes().to_vec()),
        (size_at, u64::MAX.to_le_bytes().to_vec()),
        (size_at, (512u64 << 20).to_le_bytes().to_vec()),
        (size_at, (1u64 << 29).to_le_bytes().to_vec()),
    ];
    for (at, value) in cases {
        let mut b = bytes.clone();
        b[at..at + value.len()].copy_from_slice(&value);
        LARGEST.store(0, Ordering::Relaxed);
        let result = Package::decode(&b);
        let largest = LARGEST.load(Ordering::Relaxed);
        assert!(
            matches!(
                result,
                Err(FormatError::TooLong { .. } | FormatError::Truncated { .. })
            ),
            "{result:?}"
        );
        assert!(
            largest < limit,
            "decoding allocated {largest} bytes at once for a length field at {at}"
        );
    }

    // The measurement works: a valid package with a 100 KiB image does
    // allocate that much.
    let big = Image {
        name: "big.bit".into(),
        data: vec![0; 100 * 1024],
    };
    let mut manifest = Manifest::decode(&bytes[16..16 + m_len]).unwrap();
    manifest.images = vec![ImageEntry::describe(&big.name, &big.data)];
    let b = Package::new(manifest, vec![big]).unwrap().encode();
    LARGEST.store(0, Ordering::Relaxed);
    assert!(Package::decode(&b).is_ok());
    assert!(LARGEST.load(Ordering::Relaxed) >= 100 * 1024);
}
