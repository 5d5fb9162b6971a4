//! The roster-store sink: the engine's sink conformance suite, and whole engine runs into a store.

use chrono::{DateTime, Utc};
use connectors::roster_store::{EXTERNAL_ID_KEY, RosterStoreSink};
use oneroster_model::{Base, GuidRef, GuidType, Org, OrgType, RoleType, Roster, Status, User};
use roster_store::{ImportMode, Store};
use std::sync::Arc;
use sync_engine::conformance::check_sink;
use sync_engine::model::{ConnectionGroup, OrganisationId, Role, ScopeId, ScopeSelection};
use sync_engine::plan::PlanOptions;
use sync_engine::testing::{MemorySource, person};
use sync_engine::{Engine, ManualClock, MemoryState, NoProgress, RunOptions, RunStatus, SafetyPolicy};

fn at(hour: u32) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(&format!("2026-01-05T{hour:02}:00:00Z")).unwrap().with_timezone(&Utc)
}

fn org(id: &str) -> Org {
    Org {
        base: Base::new(id),
        name: id.into(),
        org_type: OrgType::School,
        identifier: None,
        parent: None,
        children: vec![],
    }
}

async fn store_with_schools(ids: &[&str]) -> Store {
    let store = Store::memory().await.unwrap();
    let roster = Roster { orgs: ids.iter().map(|id| org(id)).collect(), ..Roster::default() };
    store.import_roster(&roster, ImportMode::Bulk, at(1)).await.unwrap();
    store
}

fn group(org: &str, scopes: &[(&str, Role)]) -> ConnectionGroup {
    ConnectionGroup {
        id: format!("g-{org}"),
        organisation: OrganisationId::new(org),
        connection: "contoso".into(),
        scopes: scopes
            .iter()
            .map(|(s, role)| ScopeSelection { scope: ScopeId::new(*s), name: (*s).into(), role: role.clone() })
            .collect(),
    }
}

struct Rig {
    store: Store,
    source: Arc<MemorySource>,
    clock: ManualClock,
    engine: Engine,
}

async fn rig(schools: &[&str]) -> Rig {
    let store = store_with_schools(schools).await;
    let source = Arc::new(MemorySource::new("contoso"));
    let clock = ManualClock::new(at(2));
    let sink = RosterStoreSink::new(store.clone()).with_clock(Arc::new(clock.clone()));
    let engine = Engine::new(Arc::new(sink), Arc::new(MemoryState::default()))
        .with_source(source.clone())
        .with_clock(Arc::new(clock.clone()))
        .with_plan_options(PlanOptions::default().roles_follow_source(true))
        // These tests are about the sink: the safety policy (tested in the engine) would hold small schools' runs.
        .with_policy(SafetyPolicy { max_suspension_fraction: 1.0, max_suspensions: 1000, empty_scope_guard: false });
    Rig { store, source, clock, engine }
}

impl Rig {
    async fn run(&self, groups: &[ConnectionGroup], org: &str) -> sync_engine::RunReport {
        self.engine.run(&OrganisationId::new(org), groups, &RunOptions::default(), &NoProgress).await.unwrap()
    }

    async fn user(&self, id: &str) -> User {
        self.store.records::<User>(&[id]).await.unwrap().pop().unwrap()
    }
}

#[tokio::test]
async fn the_sink_passes_the_engine_conformance_suite() {
    let store = store_with_schools(&["school-1"]).await;
    let sink = RosterStoreSink::new(store);
    let violations = check_sink(&sink, &OrganisationId::new("school-1"), "not an email").await;
    assert!(violations.is_empty(), "{violations:#?}");
}

#[tokio::test]
async fn an_unknown_org_has_no_users_and_cannot_be_written_to() {
    let store = store_with_schools(&["school-1"]).await;
    let sink = RosterStoreSink::new(store);
    let nope = OrganisationId::new("nope");
    assert!(sync_engine::RosterSink::current(&sink, &nope).await.unwrap().is_empty());
    let create = sync_engine::Operation::Create {
        external_id: "contoso:obj-1".into(),
        fields: sync_engine::Fields { email: Some("a@contoso.example".into()), ..Default::default() },
    };
    let err = sync_engine::RosterSink::apply(&sink, &nope, &[create]).await.unwrap_err();
    assert!(matches!(err, sync_engine::SinkError::OrganisationNotFound(_)), "{err}");
}

#[tokio::test]
async fn runs_create_users_keep_dates_when_nothing_changes_and_mark_leavers_tobedeleted() {
    let rig = rig(&["school-1"]).await;
    rig.source.add("students", person("obj-1", "Ada", "Lovelace", "ada@contoso.example"));
    rig.source.add("students", person("obj-2", "Alan", "Turing", "alan@contoso.example"));
    rig.source.add("teachers", person("obj-3", "Grace", "Hopper", "grace@contoso.example"));
    let groups = [group("school-1", &[("students", Role::Student), ("teachers", Role::Staff)])];
    let report = rig.run(&groups, "school-1").await;
    assert_eq!((report.status, report.applied.created), (RunStatus::Succeeded, 3), "{report:#?}");

    let ada = rig.user("obj-1").await;
    assert_eq!((ada.given_name.as_str(), ada.role.clone(), ada.enabled_user), ("Ada", RoleType::Student, true));
    assert_eq!(ada.email.as_deref(), Some("ada@contoso.example"));
    assert_eq!(ada.username, "ada@contoso.example");
    assert_eq!(ada.identifier.as_deref(), Some("obj-1"));
    assert_eq!(ada.orgs, vec![GuidRef::new(GuidType::Org, "school-1")]);
    assert_eq!(ada.base.metadata[EXTERNAL_ID_KEY], "contoso:obj-1");
    assert_eq!(ada.base.date_last_modified, Some(at(2)));
    assert_eq!(rig.user("obj-3").await.role, RoleType::Teacher);
    let version = rig.store.roster_version().await.unwrap();

    // Nothing changed at the source: nothing is written, not even a new roster version.
    rig.clock.set(at(3));
    let again = rig.run(&groups, "school-1").await;
    assert_eq!(again.planned.unchanged, 3, "{again:#?}");
    assert_eq!(rig.store.roster_version().await.unwrap(), version);
    assert_eq!(rig.user("obj-1").await.base.date_last_modified, Some(at(2)));

    // A name change, a leaver, a disabled account.
    rig.clock.set(at(4));
    rig.source.update("obj-1", |p| p.family_name = "King".into());
    rig.source.remove("students", "obj-2");
    rig.source.update("obj-3", |p| p.enabled = false);
    let report = rig.run(&groups, "school-1").await;
    assert_eq!((report.applied.updated, report.applied.suspended), (1, 2), "{report:#?}");
    let ada = rig.user("obj-1").await;
    assert_eq!((ada.family_name.as_str(), ada.base.date_last_modified), ("King", Some(at(4))));
    for gone in ["obj-2", "obj-3"] {
        let user = rig.user(gone).await;
        assert_eq!((user.base.status, user.enabled_user), (Status::ToBeDeleted, false), "{gone}");
        assert_eq!(user.base.date_last_modified, Some(at(4)));
    }

    // Back again: active and enabled.
    rig.clock.set(at(5));
    rig.source.add("students", person("obj-2", "Alan", "Turing", "alan@contoso.example"));
    let report = rig.run(&groups, "school-1").await;
    assert_eq!(report.applied.reactivated, 1, "{report:#?}");
    let alan = rig.user("obj-2").await;
    assert_eq!((alan.base.status, alan.enabled_user), (Status::Active, true));
}

#[tokio::test]
async fn a_person_in_two_schools_is_one_user_listing_both_and_leaving_one_keeps_the_other() {
    let rig = rig(&["school-1", "school-2"]).await;
    rig.source.add("s1", person("obj-1", "Ada", "Lovelace", "ada@contoso.example"));
    rig.source.add("s2", person("obj-1", "Ada", "Lovelace", "ada@contoso.example"));
    let groups = [group("school-1", &[("s1", Role::Staff)]), group("school-2", &[("s2", Role::Staff)])];
    rig.run(&groups, "school-1").await;
    rig.run(&groups, "school-2").await;
    let ada = rig.user("obj-1").await;
    let orgs: Vec<&str> = ada.orgs.iter().map(|o| o.sourced_id.as_str()).collect();
    assert_eq!(orgs, ["school-1", "school-2"]);

    rig.source.remove("s1", "obj-1");
    let report = rig.run(&groups, "school-1").await;
    assert_eq!(report.applied.suspended, 1, "{report:#?}");
    let ada = rig.user("obj-1").await;
    assert_eq!(ada.base.status, Status::Active);
    let orgs: Vec<&str> = ada.orgs.iter().map(|o| o.sourced_id.as_str()).collect();
    assert_eq!(orgs, ["school-2"]);
}

#[tokio::test]
async fn a_user_imported_from_csv_is_adopted_by_email_and_roles_follow_the_source() {
    let rig = rig(&["school-1"]).await;
    let mut imported = User {
        base: Base::new("sis-77"),
        username: "jdoe".into(),
        user_ids: vec![],
        enabled_user: true,
        given_name: "Jane".into(),
        family_name: "Doe".into(),
        middle_name: None,
        role: RoleType::Administrator,
        identifier: Some("77".into()),
        email: Some("jane@contoso.example".into()),
        sms: None,
        phone: None,
        agents: vec![],
        orgs: vec![GuidRef::new(GuidType::Org, "school-1")],
        grades: vec![],
        password: None,
    };
    imported.base.status = Status::Active;
    let roster = Roster { users: vec![imported], ..Roster::default() };
    rig.store.import_roster(&roster, ImportMode::Delta, at(1)).await.unwrap();

    rig.source.add("aides", person("obj-9", "Jane", "Doe", "Jane@Contoso.example"));
    let groups = [group("school-1", &[("aides", Role::Other("aide".into()))])];
    let report = rig.run(&groups, "school-1").await;
    assert_eq!((report.applied.created, report.applied.updated), (0, 1), "{report:#?}");
    let jane = rig.user("sis-77").await;
    assert_eq!(jane.base.metadata[EXTERNAL_ID_KEY], "contoso:obj-9");
    // An administrator demoted to what the group says; the CSV's username and identifier are kept.
    assert_eq!((jane.role, jane.username.as_str()), (RoleType::Aide, "jdoe"));
    assert_eq!(jane.identifier.as_deref(), Some("77"));
}
