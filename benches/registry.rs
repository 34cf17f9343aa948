//! Criterion benchmarks of the pure core: `check` on a 300,000-slot registry and one
//! `get_port` lookup on the shipped registry.

use std::collections::HashMap;
use std::hint::black_box;
use std::path::{Path, PathBuf};

use berth::registry::{self, PortKey, PortManager, Registry, Service};
use criterion::{Criterion, criterion_group, criterion_main};

/// 2,000 services × 50 instances × 3 ports. 300,000 slots cannot fit 65,535 ports, so the
/// registry necessarily collides; the layout makes every slot a valid port so that all of
/// them reach the sort and the collision scan, the expensive part.
fn generated_registry() -> Registry {
    let services = (0..2000u16)
        .map(|index| Service {
            name: format!("service{index}"),
            description: None,
            ports: (0..3u16)
                .map(|key| PortKey { name: format!("key{key}_port"), base: 1024 + (index * 3 + key) % 60000 })
                .collect(),
            instance_increment: 1,
            max_instances: 50,
            range: None,
        })
        .collect();
    Registry {
        services,
        environments: vec![registry::Environment { name: "development".into(), offset: 0 }],
        reserved: vec![],
    }
}

fn shipped_registry() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(registry::REGISTRY_PATH)
}

fn benchmarks(criterion: &mut Criterion) {
    let generated = generated_registry();
    assert_eq!(generated.slot_count(), 300_000);
    criterion.bench_function("check 300k slots", |bencher| bencher.iter(|| registry::validate(black_box(&generated))));

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
