//! The planner: table-driven cases for every rule, and properties over random inputs.

use proptest::prelude::*;
use std::collections::{BTreeMap, BTreeSet};
use sync_engine::desired::DesiredState;
use sync_engine::model::*;
use sync_engine::plan::{PlanOptions, SkipReason, SuspendReason, UpdateReason, plan};
use sync_engine::sink::Operation;
use sync_engine::{Plan, source::SourceSnapshot};

fn org() -> OrganisationId {
    OrganisationId::new("org")
}

fn p(id: &str, email: &str, role: Role) -> Person {
    Person {
        key: PersonKey::new(ConnectionId::new("c"), id),
        given_name: format!("G{id}"),
        family_name: format!("F{id}"),
        email: Some(email.into()),
        username: None,
        enabled: true,
        role,
    }
}

fn desired(mut people: Vec<Person>) -> DesiredState {
    people.sort_by(|a, b| a.key.cmp(&b.key));
    DesiredState { people, scope_counts: BTreeMap::new() }
}

fn rec(id: &str, ext: Option<&str>, email: &str, managed: bool) -> SinkRecord {
    let source = ext.and_then(|e| e.split_once(':')).map(|(_, s)| s.to_owned()).unwrap_or_default();
    SinkRecord {
        id: id.into(),
        external_id: ext.map(str::to_owned),
        email: email.into(),
        given_name: format!("G{source}"),
        family_name: format!("F{source}"),
        role: Role::Student,
        status: RecordStatus::Active,
        managed,
    }
}

fn run(d: Vec<Person>, current: Vec<SinkRecord>) -> Plan {
    plan(&org(), &desired(d), &current, &PlanOptions::default())
}

#[test]
fn nothing_in_nothing_out() {
    let plan = run(vec![], vec![]);
    assert!(plan.is_empty());
    assert_eq!(plan.managed_before, 0);
}

#[test]
fn a_new_person_is_created_with_every_field() {
    let plan = run(vec![p("1", "a@x.org", Role::Staff)], vec![]);
    assert_eq!(plan.creates.len(), 1);
    let c = &plan.creates[0];
    assert_eq!(c.external_id, "c:1");
    assert_eq!(c.fields.email.as_deref(), Some("a@x.org"));
    assert_eq!(c.fields.given_name.as_deref(), Some("G1"));
    assert_eq!(c.fields.role, Some(Role::Staff));
}

#[test]
fn a_person_already_right_changes_nothing() {
    let plan = run(vec![p("1", "a@x.org", Role::Student)], vec![rec("r1", Some("c:1"), "a@x.org", true)]);
    assert!(plan.is_empty(), "{plan:#?}");
    assert_eq!(plan.unchanged, 1);
}

#[test]
fn only_changed_fields_are_updated_and_email_case_is_not_a_change() {
    let mut person = p("1", "A@X.org", Role::Staff);
    person.family_name = "Hopper".into();
    let plan = run(vec![person], vec![rec("r1", Some("c:1"), "a@x.org", true)]);
    assert_eq!(plan.updates.len(), 1);
    let fields: Vec<_> = plan.updates[0].changes.iter().map(|c| c.field.as_str()).collect();
    assert_eq!(fields, ["family_name", "role"]);
    assert_eq!(plan.updates[0].reason, UpdateReason::Changed);
    match &plan.operations()[0] {
        Operation::Update { fields, adopt, .. } => {
            assert!(!adopt);
            assert_eq!(fields.family_name.as_deref(), Some("Hopper"));
            assert_eq!(fields.email, None);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn disabled_at_source_is_suspended_and_not_created() {
    let mut a = p("1", "a@x.org", Role::Student);
    a.enabled = false;
    let mut b = p("2", "b@x.org", Role::Student);
    b.enabled = false;
    let plan = run(vec![a, b], vec![rec("r1", Some("c:1"), "a@x.org", true)]);
    assert_eq!(plan.suspensions.len(), 1);
    assert_eq!(plan.suspensions[0].reason, SuspendReason::DisabledAtSource);
    assert!(plan.creates.is_empty());
}

#[test]
fn gone_from_source_is_suspended_but_unmanaged_users_are_never_touched() {
    let plan = run(
        vec![],
        vec![
            rec("r1", Some("c:1"), "a@x.org", true),
            rec("r2", None, "head@x.org", false),
            rec("r3", Some("x:9"), "o@x.org", false),
        ],
    );
    assert_eq!(plan.suspensions.len(), 1);
    assert_eq!(plan.suspensions[0].record_id, "r1");
    assert_eq!(plan.suspensions[0].reason, SuspendReason::GoneFromSource);
    assert!(plan.updates.is_empty() && plan.creates.is_empty());
}

#[test]
fn a_person_back_is_reactivated() {
    let mut r = rec("r1", Some("c:1"), "a@x.org", true);
    r.status = RecordStatus::Suspended;
    let plan = run(vec![p("1", "a@x.org", Role::Student)], vec![r]);
    assert_eq!(plan.reactivations.len(), 1);
    assert!(plan.updates.is_empty());
}

#[test]
fn an_unmanaged_user_with_the_same_email_is_adopted_not_duplicated() {
    let plan = run(vec![p("1", "Ada@X.org", Role::Student)], vec![rec("r9", None, "ada@x.org", false)]);
    assert!(plan.creates.is_empty());
    assert_eq!(plan.updates.len(), 1);
    assert_eq!(plan.updates[0].reason, UpdateReason::Adopted);
    assert_eq!(plan.updates[0].record_id, "r9");
    assert!(
        matches!(&plan.operations()[0], Operation::Update { adopt: true, external_id, .. } if external_id == "c:1")
    );
}

#[test]
fn an_admin_is_never_demoted_and_unknown_roles_are_left_alone() {
    let mut admin = rec("r1", Some("c:1"), "a@x.org", true);
    admin.role = Role::Admin;
    let mut other = rec("r2", Some("c:2"), "b@x.org", true);
    other.role = Role::Other("trustee".into());
    let plan = run(vec![p("1", "a@x.org", Role::Staff), p("2", "b@x.org", Role::Staff)], vec![admin, other]);
    assert!(plan.is_empty(), "{plan:#?}");
}

#[test]
fn when_roles_follow_the_source_admins_and_unknown_roles_change_too() {
    let mut admin = rec("r1", Some("c:1"), "a@x.org", true);
    admin.role = Role::Admin;
    let mut aide = rec("r2", Some("c:2"), "b@x.org", true);
    aide.role = Role::Other("aide".into());
    let people = vec![p("1", "a@x.org", Role::Staff), p("2", "b@x.org", Role::Staff), p("3", "c@x.org", Role::Staff)];
    let mut teacher = rec("r3", Some("c:3"), "c@x.org", true);
    teacher.role = Role::Staff;
    let options = PlanOptions::default().roles_follow_source(true);
    let planned = plan(&org(), &desired(people.clone()), &[admin.clone(), aide.clone(), teacher.clone()], &options);
    let changed: Vec<(&str, &str, &str)> = planned
        .updates
        .iter()
        .flat_map(|u| u.changes.iter().map(move |c| (u.record_id.as_str(), c.from.as_str(), c.to.as_str())))
        .collect();
    assert_eq!(changed, vec![("r1", "admin", "staff"), ("r2", "aide", "staff")], "{planned:#?}");
    // And to a role the engine does not name.
    let mut to_aide = people;
    to_aide[2].role = Role::Other("aide".into());
    let planned = plan(&org(), &desired(to_aide), &[teacher], &options);
    assert_eq!(planned.updates.len(), 1);
    assert_eq!(planned.updates[0].changes[0].to, "aide");
}

#[test]
fn duplicate_emails_no_email_and_taken_emails_are_skipped_with_reasons() {
    let mut no_email = p("4", "", Role::Student);
    no_email.email = None;
    let plan = run(
        vec![
            p("1", "dup@x.org", Role::Student),
            p("2", "DUP@x.org", Role::Student),
            p("3", "held@x.org", Role::Student),
            no_email,
            p("5", "held@x.org", Role::Student),
        ],
        vec![rec("r3", Some("c:3"), "held@x.org", true)],
    );
    assert_eq!(plan.creates.iter().map(|c| c.external_id.as_str()).collect::<Vec<_>>(), ["c:1"]);
    let reasons: BTreeMap<_, _> = plan.skipped.iter().map(|s| (s.external_id.as_str(), &s.reason)).collect();
    assert_eq!(reasons["c:2"], &SkipReason::DuplicateEmail { kept: "c:1".into() });
    assert_eq!(reasons["c:4"], &SkipReason::NoEmail);
    assert_eq!(reasons["c:5"], &SkipReason::EmailTaken { record_external_id: "c:3".into() });
}

#[test]
fn a_recreated_account_relinks_its_old_record_instead_of_suspending_it() {
    let plan = run(vec![p("new", "a@x.org", Role::Student)], vec![rec("r1", Some("c:old"), "a@x.org", true)]);
    assert!(plan.suspensions.is_empty(), "{plan:#?}");
    assert!(plan.creates.is_empty());
    assert_eq!(plan.updates[0].reason, UpdateReason::Relinked { previous_external_id: "c:old".into() });
}

#[test]
fn role_precedence_staff_beats_student_and_people_are_deduplicated() {
    let group = ConnectionGroup {
        id: "g".into(),
        organisation: org(),
        connection: ConnectionId::new("c"),
        scopes: vec![
            ScopeSelection { scope: ScopeId::new("students"), name: "S".into(), role: Role::Student },
            ScopeSelection { scope: ScopeId::new("staff"), name: "T".into(), role: Role::Staff },
        ],
    };
    let person = SourcePerson {
        source_id: "1".into(),
        given_name: "A".into(),
        family_name: "B".into(),
        email: Some("a@x.org".into()),
        username: None,
        enabled: true,
        scopes: vec![ScopeId::new("students"), ScopeId::new("staff")],
    };
    let snapshot = SourceSnapshot { people: vec![person.clone()], scope_counts: BTreeMap::new(), cursor: None };
    // The same person again through a second group of the same connection.
    let d = DesiredState::build([(&group, &snapshot), (&group, &snapshot)], &RolePrecedence::default());
    assert_eq!(d.people.len(), 1);
    assert_eq!(d.people[0].role, Role::Staff);
    let student_first = RolePrecedence(vec![Role::Student, Role::Staff]);
    let d = DesiredState::build([(&group, &snapshot)], &student_first);
    assert_eq!(d.people[0].role, Role::Student);
}

// ---- properties ----

/// What a sink that applies every operation does: the reference model the properties compare against.
fn apply(current: &[SinkRecord], plan: &Plan) -> Vec<SinkRecord> {
    let mut records: BTreeMap<String, SinkRecord> = current.iter().map(|r| (r.id.clone(), r.clone())).collect();
    let mut n = 0;
    for op in plan.operations() {
        match op {
            Operation::Create { external_id, fields } => {
                n += 1;
                let id = format!("new{n}");
                records.insert(
                    id.clone(),
                    SinkRecord {
                        id,
                        external_id: Some(external_id),
                        email: fields.email.unwrap_or_default(),
                        given_name: fields.given_name.unwrap_or_default(),
                        family_name: fields.family_name.unwrap_or_default(),
                        role: fields.role.unwrap_or(Role::Student),
                        status: RecordStatus::Active,
                        managed: true,
                    },
                );
            }
            Operation::Update { record_id, external_id, fields, adopt } => {
                let r = records.get_mut(&record_id).unwrap();
                if let Some(v) = fields.email {
                    r.email = v;
                }
                if let Some(v) = fields.given_name {
                    r.given_name = v;
                }
                if let Some(v) = fields.family_name {
                    r.family_name = v;
                }
                if let Some(v) = fields.role {
                    r.role = v;
                }
                if adopt {
                    r.external_id = Some(external_id);
                    r.managed = true;
                }
            }
            Operation::Suspend { record_id, .. } => {
                records.get_mut(&record_id).unwrap().status = RecordStatus::Suspended
            }
            Operation::Reactivate { record_id, .. } => {
                records.get_mut(&record_id).unwrap().status = RecordStatus::Active
            }
        }
    }
    records.into_values().collect()
}

fn arb_person() -> impl Strategy<Value = Person> {
    (0u8..12, 0u8..10, any::<bool>(), prop_oneof![Just(Role::Student), Just(Role::Staff)], 0u8..3).prop_map(
        |(id, mail, enabled, role, name)| {
            let mut person = p(&id.to_string(), &format!("u{mail}@x.org"), role);
            person.enabled = enabled || id % 3 != 0;
            person.family_name = format!("F{id}-{name}");
            person
        },
    )
}

fn arb_record() -> impl Strategy<Value = SinkRecord> {
    (0u8..12, 0u8..12, any::<bool>(), any::<bool>(), 0u8..3).prop_map(|(key, mail, managed, suspended, name)| {
        let ext = format!("c:{key}");
        let mut r = rec("", managed.then_some(ext.as_str()), &format!("u{mail}@x.org"), managed);
        r.family_name = format!("F{key}-{name}");
        r.status = if suspended { RecordStatus::Suspended } else { RecordStatus::Active };
        r
    })
}

fn arb_inputs() -> impl Strategy<Value = (DesiredState, Vec<SinkRecord>)> {
    (proptest::collection::vec(arb_person(), 0..12), proptest::collection::vec(arb_record(), 0..12)).prop_map(
        |(people, records)| {
            let mut people = people;
            people.sort_by(|a, b| a.key.cmp(&b.key));
            people.dedup_by(|a, b| a.key == b.key);
            // A sink never holds two records with one email or one external id.
            let mut emails = BTreeSet::new();
            let mut externals = BTreeSet::new();
            let mut current = Vec::new();
            for (i, mut r) in records.into_iter().enumerate() {
                if emails.insert(r.email.clone()) && r.external_id.as_ref().is_none_or(|e| externals.insert(e.clone()))
                {
                    r.id = format!("r{i}");
                    current.push(r);
                }
            }
            (DesiredState { people, scope_counts: BTreeMap::new() }, current)
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Applying a plan makes every managed user match the desired state; planning again finds nothing to do.
    #[test]
    fn applying_a_plan_reaches_the_desired_state(( d, current) in arb_inputs()) {
        let first = plan(&org(), &d, &current, &PlanOptions::default());
        let after = apply(&current, &first);
        let skipped: BTreeSet<_> = first.skipped.iter().map(|s| s.external_id.clone()).collect();
        for person in &d.people {
            let ext = person.key.external_id();
            let records: Vec<_> = after.iter().filter(|r| r.external_id.as_deref() == Some(ext.as_str())).collect();
            if person.enabled && !skipped.contains(&ext) {
                prop_assert_eq!(records.len(), 1, "{} should have exactly one record", ext);
                let r = records[0];
                prop_assert!(r.managed && r.status == RecordStatus::Active);
                prop_assert_eq!(&r.family_name, &person.family_name);
                prop_assert!(r.email.eq_ignore_ascii_case(person.email.as_deref().unwrap()));
            } else {
                prop_assert!(records.iter().all(|r| r.status == RecordStatus::Suspended || !r.managed));
            }
        }
        let wanted: BTreeSet<_> = d.people.iter().filter(|p| p.enabled).map(|p| p.key.external_id()).collect();
        for r in after.iter().filter(|r| r.managed) {
            if !r.external_id.as_ref().is_some_and(|e| wanted.contains(e)) {
                prop_assert_eq!(r.status, RecordStatus::Suspended, "managed {:?} is not wanted but active", r.external_id);
            }
        }
        let again = plan(&org(), &d, &after, &PlanOptions::default());
        prop_assert!(again.is_empty(), "second plan not empty: {:#?}", again);
    }

    /// Records the sync does not manage appear in a plan only to be adopted, never otherwise.
    #[test]
    fn unmanaged_users_are_only_ever_adopted((d, current) in arb_inputs()) {
        let plan = plan(&org(), &d, &current, &PlanOptions::default());
        let unmanaged: BTreeSet<_> = current.iter().filter(|r| !r.managed).map(|r| r.id.clone()).collect();
        prop_assert!(plan.suspensions.iter().all(|s| !unmanaged.contains(&s.record_id)));
        for u in plan.updates.iter().filter(|u| unmanaged.contains(&u.record_id)) {
            prop_assert_eq!(&u.reason, &UpdateReason::Adopted);
        }
        let adopted: BTreeSet<_> = plan.updates.iter().filter(|u| u.reason == UpdateReason::Adopted).map(|u| u.record_id.clone()).collect();
        prop_assert!(plan.reactivations.iter().all(|r| !unmanaged.contains(&r.record_id) || adopted.contains(&r.record_id)));
    }

    /// The plan does not depend on the order of the sink's records.
    #[test]
    fn plans_are_deterministic((d, current) in arb_inputs(), seed in any::<u64>()) {
        let a = plan(&org(), &d, &current, &PlanOptions::default());
        let mut shuffled = current.clone();
        fastrand::Rng::with_seed(seed).shuffle(&mut shuffled);
        let b = plan(&org(), &d, &shuffled, &PlanOptions::default());
        prop_assert_eq!(a, b);
    }
}
