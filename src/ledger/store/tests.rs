use std::fs;

use super::*;
use crate::ledger::{DEFAULT_DYNAMIC_RANGE, gc};
use crate::registry::PortRange;

fn request(project: &str, service: &str, count: u32, range: (u16, u16)) -> AllocationRequest {
    AllocationRequest {
        project: project.into(),
        service: service.into(),
        count,
        range: PortRange::new(range.0, range.1).expect("forwards"),
        strategy: Strategy::FirstFit,
        protocol: Protocol::Tcp,
        purpose: String::new(),
        owner: None,
        ttl_seconds: None,
        health_endpoint: None,
        slot: None,
    }
}

fn ports(leases: &[Lease]) -> Vec<u16> {
    leases.iter().map(|lease| lease.port).collect()
}

fn all_free(_: u16) -> bool {
    true
}

#[test]
fn first_fit_allocates_the_lowest_free_ports_and_persists_them() {
    let directory = tempfile::tempdir().expect("tempdir");
    let mut ledger = Ledger::open(directory.path()).expect("open");
    let mut taken = PortSet::default();
    taken.insert(30501);
    let first = ledger
        .allocate(&request("shop", "web", 3, (30500, 30599)), &taken, |port| port != 30502, 100)
        .expect("allocate");
    assert_eq!(ports(&first), [30500, 30503, 30504]);
    assert_eq!(first[0].created_at, 100);
    let other = ledger.allocate(&request("blog", "db", 1, (30500, 30599)), &taken, all_free, 100).expect("allocate");
    assert_eq!(ports(&other), [30502], "leases of other projects are skipped, the busy port is free again");
    drop(ledger);

    let reopened = Ledger::open(directory.path()).expect("reopen");
    let everything = reopened.leases(None).expect("leases");
    assert_eq!(ports(&everything), [30502, 30500, 30503, 30504], "ordered by project, service, port");
    assert_eq!(ports(&reopened.leases(Some("shop")).expect("leases")), [30500, 30503, 30504]);
    assert_eq!(reopened.lease_on(30503).expect("lookup").map(|lease| lease.project), Some("shop".into()));
    reopened.integrity_check().expect("intact");
}

#[test]
fn asking_again_returns_the_same_ports_renewed_and_tops_up() {
    let directory = tempfile::tempdir().expect("tempdir");
    let mut ledger = Ledger::open(directory.path()).expect("open");
    let taken = PortSet::default();
    let first = ledger.allocate(&request("shop", "web", 2, (4000, 4100)), &taken, all_free, 100).expect("allocate");
    let again = ledger.allocate(&request("shop", "web", 2, (4000, 4100)), &taken, all_free, 200).expect("again");
    assert_eq!(ports(&first), ports(&again));
    assert_eq!((again[0].created_at, again[0].renewed_at), (100, 200));
    let more = ledger.allocate(&request("shop", "web", 3, (4000, 4100)), &taken, all_free, 300).expect("more");
    assert_eq!(ports(&more), [4000, 4001, 4002]);
    let fewer = ledger.allocate(&request("shop", "web", 1, (4000, 4100)), &taken, all_free, 300).expect("fewer");
    assert_eq!(ports(&fewer), [4000]);
    assert_eq!(ledger.leases(Some("shop")).expect("leases").len(), 3, "asking for fewer releases nothing");
}

#[test]
fn sequential_numbering_is_stable_across_runs_and_never_reuses() {
    let directory = tempfile::tempdir().expect("tempdir");
    let sequential = |service: &str| AllocationRequest {
        strategy: Strategy::Sequential { base: 4000 },
        ..request("seed", service, 1, (4000, 4999))
    };
    let taken = PortSet::default();
    {
        let mut ledger = Ledger::open(directory.path()).expect("open");
        for (service, port) in [("http-server", 4000), ("postgres", 4001), ("mongo", 4002)] {
            assert_eq!(ports(&ledger.allocate(&sequential(service), &taken, all_free, 1).expect("allocate")), [port]);
        }
        ledger.release("seed", &ReleaseScope::Service("postgres".into())).expect("release");
    }
    let mut ledger = Ledger::open(directory.path()).expect("reopen");
    assert_eq!(ports(&ledger.allocate(&sequential("redis"), &taken, all_free, 2).expect("allocate")), [4003]);
    assert_eq!(ports(&ledger.allocate(&sequential("mongo"), &taken, all_free, 2).expect("again")), [4002]);
}

#[test]
fn exhaustion_says_how_many_ports_are_free() {
    let directory = tempfile::tempdir().expect("tempdir");
    let mut ledger = Ledger::open(directory.path()).expect("open");
    let taken = PortSet::default();
    ledger.allocate(&request("a", "x", 7, (5000, 5009)), &taken, all_free, 1).expect("allocate");
    let error = ledger.allocate(&request("b", "y", 4, (5000, 5009)), &taken, all_free, 1).expect_err("too many");
    assert_eq!(
        error.to_string(),
        "cannot allocate 4 port(s) in 5000-5009: only 3 free from 5000 on (registry slots, reserved, leased and listening ports are skipped); release some, or search a wider range"
    );
    assert_eq!(ledger.leases(Some("b")).expect("leases"), [], "a failed allocation records nothing");
}

#[test]
fn release_by_project_service_and_port() {
    let directory = tempfile::tempdir().expect("tempdir");
    let mut ledger = Ledger::open(directory.path()).expect("open");
    let taken = PortSet::default();
    ledger.allocate(&request("shop", "web", 2, (6000, 6100)), &taken, all_free, 1).expect("web");
    ledger.allocate(&request("shop", "db", 2, (6000, 6100)), &taken, all_free, 1).expect("db");
    assert_eq!(ports(&ledger.release("shop", &ReleaseScope::Port(6001)).expect("port")), [6001]);
    assert_eq!(ports(&ledger.release("shop", &ReleaseScope::Service("db".into())).expect("service")), [6002, 6003]);
    assert!(matches!(
        ledger.release("shop", &ReleaseScope::Service("db".into())),
        Err(LedgerError::NothingToRelease { .. })
    ));
    assert_eq!(ports(&ledger.release("shop", &ReleaseScope::Project).expect("project")), [6000]);
    let error = ledger.release("shop", &ReleaseScope::Project).expect_err("gone");
    assert!(error.is_finding());
    assert_eq!(error.to_string(), "project `shop` holds no leases");
}

#[test]
fn gc_marks_then_frees_and_recovers() {
    let directory = tempfile::tempdir().expect("tempdir");
    let mut ledger = Ledger::open(directory.path()).expect("open");
    let taken = PortSet::default();
    let mut expiring = request("shop", "web", 2, (7000, 7100));
    expiring.ttl_seconds = Some(10);
    ledger.allocate(&expiring, &taken, all_free, 100).expect("allocate");
    let pass = |ledger: &mut Ledger, now: i64| {
        let decide = |lease: &Lease| {
            let stale = gc::staleness(lease, now, |_| true, |_| true, None);
            gc::action(lease, stale, now, 60)
        };
        let decisions = ledger.collect_garbage(decide, now, false).expect("gc pass");
        decisions.into_iter().map(|(lease, action)| (lease.port, action)).collect::<Vec<_>>()
    };
    assert_eq!(pass(&mut ledger, 105), []);
    let first = pass(&mut ledger, 120);
    assert!(first.iter().all(|(_, action)| matches!(action, GcAction::Mark(_))), "{first:?}");
    assert_eq!(ledger.leases(None).expect("leases")[0].stale_since, Some(120));
    assert!(pass(&mut ledger, 150).iter().all(|(_, action)| matches!(action, GcAction::Wait(_))));
    assert_eq!(ledger.leases(None).expect("leases").len(), 2, "nothing freed inside the grace period");
    assert!(pass(&mut ledger, 180).iter().all(|(_, action)| matches!(action, GcAction::Free(_))));
    assert_eq!(ledger.leases(None).expect("leases"), []);

    ledger.allocate(&expiring, &taken, all_free, 200).expect("allocate again");
    pass(&mut ledger, 220);
    ledger.allocate(&expiring, &taken, all_free, 230).expect("renewed by asking again");
    assert_eq!(ledger.leases(None).expect("leases")[0].stale_since, None, "renewal clears the mark");
}

#[test]
fn a_file_that_is_not_sqlite_is_reported_and_left_alone() {
    let directory = tempfile::tempdir().expect("tempdir");
    let path = directory.path().join(LEDGER_FILE);
    fs::write(&path, "this is not a database, it is a shopping list\n".repeat(100)).expect("write");
    let error = Ledger::open(directory.path()).expect_err("not sqlite");
    assert!(matches!(error, LedgerError::NotALedger { .. }), "{error:?}");
    let message = error.to_string();
    assert!(message.contains(&path.display().to_string()) && message.contains("mv "), "{message}");
    assert!(fs::read_to_string(&path).expect("still there").starts_with("this is not a database"));
}

#[test]
fn a_truncated_ledger_is_reported_and_left_alone() {
    let directory = tempfile::tempdir().expect("tempdir");
    {
        let mut ledger = Ledger::open(directory.path()).expect("open");
        let many = request("big", "svc", 2000, (DEFAULT_DYNAMIC_RANGE.start, DEFAULT_DYNAMIC_RANGE.end));
        ledger.allocate(&many, &PortSet::default(), all_free, 1).expect("fill");
        ledger.connection.pragma_update(None, "wal_checkpoint", "TRUNCATE").expect("checkpoint");
    }
    let path = directory.path().join(LEDGER_FILE);
    let bytes = fs::read(&path).expect("read");
    fs::write(&path, &bytes[..bytes.len() / 3]).expect("truncate");
    let outcome = Ledger::open(directory.path()).and_then(|ledger| {
        ledger.integrity_check()?;
        ledger.leases(None).map(|_| ())
    });
    let error = outcome.expect_err("truncated");
    assert!(matches!(error, LedgerError::Corrupt { .. }), "{error:?}");
    assert!(error.to_string().contains("berth will not overwrite it"), "{error}");
    assert_eq!(fs::read(&path).expect("still there").len(), bytes.len() / 3);
}

#[test]
fn a_state_directory_that_cannot_be_made_is_reported() {
    let directory = tempfile::tempdir().expect("tempdir");
    let blocker = directory.path().join("file");
    fs::write(&blocker, "").expect("write");
    let error = Ledger::open(&blocker.join("state")).expect_err("parent is a file");
    assert!(matches!(error, LedgerError::StateDir { .. }), "{error:?}");
    assert!(error.to_string().contains("set BERTH_STATE_DIR to a writable directory"), "{error}");
}

#[test]
fn a_read_only_file_system_is_reported() {
    let error = Ledger::open(std::path::Path::new("/proc/berth-ledger")).expect_err("read-only");
    assert!(matches!(error, LedgerError::StateDir { .. }), "{error:?}");
}

#[test]
fn two_handles_see_each_others_inserts_and_deletions() {
    let directory = tempfile::tempdir().expect("tempdir");
    let mut first = Ledger::open(directory.path()).expect("first");
    let mut second = Ledger::open(directory.path()).expect("second");
    let taken = PortSet::default();
    let range = (8000, 8100);
    assert_eq!(ports(&first.allocate(&request("a", "x", 2, range), &taken, all_free, 1).expect("a")), [8000, 8001]);
    assert_eq!(ports(&second.allocate(&request("b", "x", 1, range), &taken, all_free, 1).expect("b")), [8002]);
    assert_eq!(ports(&first.allocate(&request("a", "y", 1, range), &taken, all_free, 1).expect("a y")), [8003]);
    assert_eq!(ports(&second.allocate(&request("b", "y", 1, range), &taken, all_free, 1).expect("b y")), [8004]);
    first.release("a", &ReleaseScope::Port(8001)).expect("release");
    assert_eq!(
        ports(&second.allocate(&request("b", "z", 1, range), &taken, all_free, 1).expect("b z")),
        [8001],
        "a port released through another handle is free again"
    );
}

#[test]
fn claims_record_slots_and_refuse_ports_of_other_projects() {
    let directory = tempfile::tempdir().expect("tempdir");
    let mut ledger = Ledger::open(directory.path()).expect("open");
    let claim = |port: u16, instance: u16| Claim {
        port,
        slot: LeaseSlot { service: "kafka".into(), instance, key: "broker_port".into() },
        purpose: "container kafka-development-1".into(),
    };
    assert_eq!(
        ledger.claim("container:kafka-development-1", &[claim(9192, 1)], Some("engine"), 10).expect("claim"),
        [9192]
    );
    assert_eq!(
        ledger
            .claim("container:kafka-development-1", &[claim(9192, 1)], Some("engine"), 20)
            .expect("claiming again renews"),
        [] as [u16; 0],
        "a renewal leases nothing new"
    );
    let lease = ledger.lease_on(9192).expect("lookup").expect("leased");
    assert_eq!(lease.slot, Some(LeaseSlot { service: "kafka".into(), instance: 1, key: "broker_port".into() }));
    assert_eq!((lease.created_at, lease.renewed_at), (10, 20));
    let error = ledger.claim("someone-else", &[claim(9292, 2), claim(9192, 1)], None, 30).expect_err("taken");
    assert_eq!(
        error.to_string(),
        "port 9192 is leased to project `container:kafka-development-1` (service `kafka`) in the host ledger; release it there first"
    );
    assert_eq!(ledger.lease_on(9292).expect("lookup"), None, "a failed claim records nothing");
    let mut first_fit = request("dyn", "x", 1, (9192, 9192));
    first_fit.count = 1;
    assert!(
        ledger.allocate(&first_fit, &PortSet::default(), all_free, 40).is_err(),
        "claimed ports are not handed out"
    );
    assert_eq!(ledger.release_ports("someone-else", &[9192]).expect("release"), [] as [u16; 0], "not theirs");
    assert_eq!(ledger.release_ports("container:kafka-development-1", &[9192, 9292]).expect("release"), [9192]);
}

#[test]
fn a_container_publishes_its_own_fallback_and_nobody_else_s() {
    let directory = tempfile::tempdir().expect("tempdir");
    let mut ledger = Ledger::open(directory.path()).expect("open");
    let slot = |instance: u16| LeaseSlot { service: "dashboard".into(), instance, key: "port".into() };
    let mut fallback = request("fallback:dashboard-development", "port", 1, (3211, 3211));
    fallback.slot = Some(slot(0));
    ledger.allocate(&fallback, &PortSet::default(), all_free, 10).expect("the fallback lease");
    let claim = |instance: u16, key: &str| Claim {
        port: 3211,
        slot: LeaseSlot { key: key.into(), ..slot(instance) },
        purpose: "container".into(),
    };
    assert_eq!(
        ledger.claim("container:dashboard-development", &[claim(0, "port")], Some("engine"), 20).expect("its own"),
        [] as [u16; 0],
        "the fallback stays the fallback project's lease"
    );
    assert_eq!(ledger.lease_on(3211).expect("lookup").expect("leased").project, "fallback:dashboard-development");
    for (project, instance, key) in
        [("container:dashboard-development-1", 1, "port"), ("container:dashboard-development", 0, "admin_port")]
    {
        let error = ledger.claim(project, &[claim(instance, key)], Some("engine"), 30).expect_err("not its fallback");
        assert!(error.to_string().contains("leased to project `fallback:dashboard-development`"), "{error}");
    }
}

#[test]
fn many_handles_opening_a_new_ledger_at_once_migrate_it_once() {
    let directory = tempfile::tempdir().expect("tempdir");
    std::thread::scope(|scope| {
        let openers: Vec<_> = (0..8).map(|_| scope.spawn(|| Ledger::open(directory.path()).map(drop))).collect();
        for opener in openers {
            opener.join().expect("thread").expect("open");
        }
    });
    Ledger::open(directory.path()).expect("open").integrity_check().expect("intact");
}
