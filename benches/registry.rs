//! Criterion benchmarks of the pure core: `check` on a 65,000-slot registry, the most a
//! registry may define (with and without reading its YAML), and one `get_port` lookup on
//! the shipped registry.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::hint::black_box;
use std::path::{Path, PathBuf};

use berth::registry::{self, PortManager};
use criterion::{Criterion, criterion_group, criterion_main};

/// 1,300 services × 50 instances as registry YAML: 65,000 slots, just under the limit of
/// 65,535. Their bases are close, so thousands collide; every slot is a valid port, so all
/// of them reach the sort and the collision scan, the expensive part.
fn generated_registry() -> String {
    let mut text = String::from("defaults:\n  instance_increment: 1\n  max_instances: 50\n");
    for service in 0..1300u32 {
        let _ = writeln!(text, "service{service}:");
        let _ = writeln!(text, "  port: {}", 1024 + (service * 37) % 60000);
    }
    text
}

fn shipped_registry() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(registry::REGISTRY_PATH)
}

fn benchmarks(criterion: &mut Criterion) {
    let text = generated_registry();
    let origin = Path::new("generated.yaml");
    let generated = registry::parse(&text, origin).expect("generated registry loads");
    assert_eq!(generated.slot_count(), 65_000);
    criterion.bench_function("check 65k slots", |bencher| bencher.iter(|| registry::validate(black_box(&generated))));
    criterion.bench_function("load and check 65k slots", |bencher| {
        bencher.iter(|| registry::validate(&registry::parse(black_box(&text), origin).expect("loads")))
    });

    let shipped = registry::load_file(&shipped_registry()).expect("shipped registry loads");
    criterion
        .bench_function("check shipped registry", |bencher| bencher.iter(|| registry::validate(black_box(&shipped))));

    let manager = PortManager::load(&shipped_registry(), HashMap::new()).expect("shipped registry is valid");
    criterion.bench_function("get_port kafka broker_port 1", |bencher| {
        bencher.iter(|| manager.get_port(black_box("kafka"), black_box(1), black_box("broker_port")))
    });
}

criterion_group!(benches, benchmarks);
criterion_main!(benches);
