//! Criterion benchmarks of the pure core: `check` on a 65,000-slot registry, the most a
//! registry may define (with and without reading its YAML), one `get_port` lookup on the
//! shipped registry, and `berth ports` output for 65,000 rows: the table people read beside
//! the `.env` lines scripts read.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::hint::black_box;
use std::path::{Path, PathBuf};

use berth::export::{self, ExportRow, Format};
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

/// 65,000 export rows, as `berth ports` makes them for the largest registry.
fn export_rows() -> Vec<ExportRow> {
    (0..65_000u32)
        .map(|index| ExportRow {
            service: format!("service{}", index / 50),
            instance: u16::try_from(index % 50).expect("small"),
            key: "port".to_string(),
            port: u16::try_from(1024 + index % 60_000).expect("a port"),
            variable: format!("SERVICE{}_{}_PORT", index / 50, index % 50),
            heading: String::new(),
        })
        .collect()
}

/// The table as berth wrote it before it used a table crate: each column padded to its
/// widest cell, nothing else. The baseline for what the shared table style costs.
fn padded_columns(rows: &[ExportRow]) -> String {
    let cells: Vec<[String; 5]> = rows
        .iter()
        .map(|row| {
            [row.service.clone(), row.instance.to_string(), row.key.clone(), row.port.to_string(), row.variable.clone()]
        })
        .collect();
    let mut widths = [0usize; 5];
    for row in &cells {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.len());
        }
    }
    cells.iter().fold(String::new(), |mut text, row| {
        for (cell, width) in row.iter().zip(widths) {
            let _ = write!(text, "{cell:<width$}  ");
        }
        text.push('\n');
        text
    })
}

fn output(criterion: &mut Criterion) {
    let rows = export_rows();
    criterion.bench_function("ports table, 65k rows", |bencher| {
        bencher.iter(|| export::render(Format::Table, black_box(&rows)))
    });
    criterion.bench_function("padded columns (former table), 65k rows", |bencher| {
        bencher.iter(|| padded_columns(black_box(&rows)))
    });
    let shipped = &rows[..134];
    criterion.bench_function("ports table, 134 rows (the shipped registry)", |bencher| {
        bencher.iter(|| export::render(Format::Table, black_box(shipped)))
    });
    criterion.bench_function("ports env, 65k rows", |bencher| {
        bencher.iter(|| export::render(Format::Env, black_box(&rows)))
    });
}

criterion_group!(benches, benchmarks, output);
criterion_main!(benches);
