//! The CPU inference path allocates nothing for a frame of a size it has already seen: a
//! counting global allocator around `compact_into` / `residual_into` calls.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use cnncodec::net::architecture::{ComCnnConfig, RecCnnConfig};
use cnncodec::net::cpu::CpuEngine;
use cnncodec::{Engine, ModelWeights, Plane};

struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::SeqCst);
        System.alloc(layout)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout)
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::SeqCst);
        System.realloc(ptr, layout, new_size)
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn frames_of_a_size_already_seen_allocate_nothing() {
    let weights = ModelWeights::random(
        "allocations",
        ComCnnConfig::new().with_features(8),
        RecCnnConfig::new().with_features(16).with_depth(4),
        1,
    );
    let engine = CpuEngine::new(&weights);
    let input = Plane::new(
        353,
        289,
        (0..353 * 289).map(|i| (i % 255) as f32 / 255.0).collect(),
    );
    let (mut compact, mut residual) = (Plane::new(0, 0, vec![]), Plane::new(0, 0, vec![]));
    // The first frame of a size sizes the buffers.
    engine.compact_into(&input, &mut compact);
    engine.residual_into(&input, &mut residual);
    let before = ALLOCATIONS.load(Ordering::SeqCst);
    for _ in 0..5 {
        engine.compact_into(&input, &mut compact);
        engine.residual_into(&input, &mut residual);
    }
    let after = ALLOCATIONS.load(Ordering::SeqCst);
    assert_eq!(
        after - before,
        0,
        "allocations for 10 frames of a size already seen"
    );
    assert_eq!((compact.width, compact.height), (177, 145));
    // The same frames through the allocating calls give the same planes.
    assert_eq!(engine.compact(&input), compact);
    assert_eq!(engine.residual(&input), residual);
}
