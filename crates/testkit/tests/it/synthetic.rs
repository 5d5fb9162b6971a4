//! Synthetic trusts: deterministic, shaped as the spec asks, and internally consistent.

use std::collections::{HashMap, HashSet};
use testkit::secure_schools::{FakeSecureSchools, UserRole};
use testkit::synthetic::{DirectoryGroupKind, MemberRef, TRUST_LEVEL_USERS, Trust, TrustSpec};

fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

#[test]
fn the_same_seed_gives_byte_identical_trusts_and_another_seed_does_not() {
    let a = serde_json::to_vec(&TrustSpec::small().generate()).unwrap();
    let b = serde_json::to_vec(&TrustSpec::small().generate()).unwrap();
    assert_eq!(fnv(&a), fnv(&b));
    assert_eq!(a, b);
    let c = serde_json::to_vec(&TrustSpec::small().seed(43).generate()).unwrap();
    assert_ne!(a, c);
    // Larger than one thread's share of schools, so parallel generation is exercised too.
    let spec = TrustSpec { schools: 9, ..TrustSpec::small() };
    assert_eq!(spec.generate(), spec.generate());
}

#[test]
fn counts_match_the_spec() {
    let spec = TrustSpec { schools: 4, staff_per_school: 20, students_per_school: 70, ..TrustSpec::small() };
    let trust = spec.generate();
    assert_eq!(trust.directory.users.len(), 4 * 90 + TRUST_LEVEL_USERS);
    assert_eq!(trust.directory.users.len(), spec.expected_users());
    assert_eq!(trust.schools.len(), 4);
    assert_eq!(trust.secure_schools_existing_users.len(), 4);
    for school in &trust.schools {
        assert_eq!(school.staff.len(), 20);
        assert_eq!(school.students.len(), 70);
        assert_eq!(school.year_group_ids.len(), spec.year_groups);
        assert_eq!(school.m365_group_ids.len(), spec.m365_groups_per_school);
        let students = trust.transitive_user_ids(&school.student_group_id);
        assert_eq!(students.len(), 70, "every student, once, through the nested groups");
        let own: HashSet<&str> = trust.directory.users[school.students.clone()].iter().map(|u| u.id.as_str()).collect();
        assert_eq!(students.iter().copied().collect::<HashSet<_>>(), own);
    }
    let ids: HashSet<&str> = trust.directory.users.iter().map(|u| u.id.as_str()).collect();
    assert_eq!(ids.len(), trust.directory.users.len(), "object ids are unique");
    let upns: HashSet<String> = trust.directory.users.iter().map(|u| u.user_principal_name.to_lowercase()).collect();
    assert_eq!(upns.len(), trust.directory.users.len(), "sign-in names are unique");

    let scaled = TrustSpec::with_users(1_000_000);
    assert_eq!((scaled.schools, scaled.staff_per_school, scaled.students_per_school), (1000, 100, 900));
    assert_eq!(scaled.expected_users(), 1_000_000 + TRUST_LEVEL_USERS);
    let odd = TrustSpec::with_users(2_500);
    assert!(odd.schools * odd.users_per_school() <= 2_500 && odd.schools * odd.users_per_school() > 2_490);
}

#[test]
fn every_kind_of_group_is_present_and_microsoft_365_groups_are_marked() {
    let trust = TrustSpec::small().generate();
    let kinds: HashSet<DirectoryGroupKind> = trust.directory.groups.iter().map(|g| g.kind).collect();
    for kind in [
        DirectoryGroupKind::Security,
        DirectoryGroupKind::MailEnabledSecurity,
        DirectoryGroupKind::Distribution,
        DirectoryGroupKind::Microsoft365,
    ] {
        assert!(kinds.contains(&kind), "{kind:?}");
    }
    for school in &trust.schools {
        for id in &school.m365_group_ids {
            let g = trust.group(id).unwrap();
            assert_eq!(g.kind, DirectoryGroupKind::Microsoft365);
            assert!(g.mail.is_some());
        }
        let dynamic = trust.group(&school.dynamic_group_id).unwrap();
        assert!(dynamic.membership_rule.as_deref().unwrap().contains("user.department"));
        assert!(!dynamic.members.is_empty());
        assert_eq!(trust.group(&school.all_staff_group_id).unwrap().kind, DirectoryGroupKind::MailEnabledSecurity);
        let list = trust.group(&school.distribution_group_id).unwrap();
        assert_eq!(list.kind, DirectoryGroupKind::Distribution);
        assert!(list.members.contains(&MemberRef::Group(school.all_staff_group_id.clone())));
    }
}

/// The longest chain of group-in-group below a group.
fn depth(trust: &Trust, id: &str) -> usize {
    let g = trust.group(id).unwrap();
    g.members
        .iter()
        .filter_map(|m| match m {
            MemberRef::Group(child) => Some(1 + depth(trust, child)),
            MemberRef::User(_) => None,
        })
        .max()
        .unwrap_or(0)
}

#[test]
fn students_groups_nest_as_deep_as_the_spec_says() {
    for nesting in 1..=3 {
        let trust = TrustSpec { nesting_depth: nesting, ..TrustSpec::small() }.generate();
        for school in &trust.schools {
            assert_eq!(depth(&trust, &school.student_group_id), nesting, "nesting depth {nesting}");
            assert_eq!(trust.transitive_user_ids(&school.student_group_id).len(), trust.spec.students_per_school);
        }
        // Trust-wide groups nest every school's groups one level deeper.
        assert_eq!(depth(&trust, &trust.trust_groups.all_students_group_id), nesting + 1);
    }
    let trust = TrustSpec { nesting_depth: 3, ..TrustSpec::small() }.generate();
    assert_eq!(trust.schools[0].form_group_ids.len(), 2 * trust.spec.year_groups);
    assert_eq!(trust.schools[0].key_stage_group_ids.len(), trust.spec.year_groups.div_ceil(3));
}

#[test]
fn about_two_percent_of_accounts_are_disabled() {
    let trust = TrustSpec::with_users(20_000).generate();
    let disabled = trust.directory.users.iter().filter(|u| !u.account_enabled).count();
    let fraction = disabled as f64 / trust.directory.users.len() as f64;
    assert!((0.015..=0.025).contains(&fraction), "{fraction}");
    let admin = trust.user(&trust.admin.directory_user_id).unwrap();
    assert!(admin.account_enabled, "the syncing admin can sign in");
    let small = TrustSpec::small().generate();
    assert!(small.directory.users.iter().any(|u| !u.account_enabled), "present even in a small trust");
}

#[test]
fn names_are_international_but_sign_in_names_are_ascii() {
    let trust = TrustSpec::small().generate();
    let names: Vec<&str> = trust.directory.users.iter().map(|u| u.display_name.as_str()).collect();
    assert!(names.iter().any(|n| n.contains('\'')), "apostrophes");
    assert!(names.iter().any(|n| n.chars().any(|c| ('\u{c0}'..='\u{24f}').contains(&c) || c == 'ọ')), "diacritics");
    assert!(
        names.iter().any(|n| n.chars().any(|c| c.is_alphabetic() && c > '\u{370}')),
        "a non-Latin script (Greek, Cyrillic, Arabic, Devanagari, CJK…)"
    );
    for u in &trust.directory.users {
        assert!(u.user_principal_name.is_ascii(), "{}", u.user_principal_name);
        assert!(!u.user_principal_name.contains('\''), "{}", u.user_principal_name);
        assert!(!u.user_principal_name.contains(' '), "{}", u.user_principal_name);
        if let Some(mail) = &u.mail {
            assert!(mail.is_ascii(), "{mail}");
        }
    }
    assert!(trust.directory.users.iter().any(|u| u.user_type == "Guest" && u.user_principal_name.contains("#EXT#")));
    assert!(trust.directory.users.iter().any(|u| u.mail.is_none()), "students without a mailbox");
    assert!(trust.directory.users.iter().any(|u| u.mail.as_ref().is_some_and(|m| *m != u.user_principal_name)));
    assert!(trust.directory.users.iter().any(|u| u.given_name.is_none()));
}

#[test]
fn users_are_in_several_groups() {
    let trust = TrustSpec::small().generate();
    let mut groups_of: HashMap<&str, usize> = HashMap::new();
    for g in &trust.directory.groups {
        for m in &g.members {
            if let MemberRef::User(id) = m {
                *groups_of.entry(id.as_str()).or_default() += 1;
            }
        }
    }
    let school = &trust.schools[0];
    let students = &trust.directory.users[school.students.clone()];
    assert!(students.iter().any(|u| groups_of.get(u.id.as_str()).copied().unwrap_or(0) >= 2));
    // Some students are also staff (role precedence), and some staff work at two schools.
    let staff = trust.transitive_user_ids(&school.staff_group_id);
    assert!(students.iter().any(|u| staff.contains(u.id.as_str())));
    assert!(trust.schools.iter().any(|s| !s.visiting_staff_ids.is_empty()));
    for s in &trust.schools {
        let staff = trust.transitive_user_ids(&s.staff_group_id);
        assert!(s.visiting_staff_ids.iter().all(|id| staff.contains(id.as_str())));
    }
}

#[test]
fn duplicate_emails_across_sources_are_present_and_consistent() {
    let trust = TrustSpec::small().generate();
    let mut adoptable = 0;
    let mut legacy = 0;
    let mut emails_by_org: HashMap<String, Vec<&str>> = HashMap::new();
    for existing in &trust.secure_schools_existing_users {
        let mut seen = HashSet::new();
        for e in &existing.users {
            assert!(seen.insert(e.email.to_lowercase()), "unique in its organisation: {}", e.email);
            emails_by_org.entry(e.email.to_lowercase()).or_default().push(&existing.organisation_id);
            match &e.directory_user_id {
                Some(id) => {
                    let u = trust.user(id).unwrap();
                    assert_eq!(e.email.to_lowercase(), Trust::sync_email(u).to_lowercase());
                    adoptable += 1;
                }
                None => {
                    assert!(!trust.directory.users.iter().any(|u| Trust::sync_email(u).eq_ignore_ascii_case(&e.email)));
                    legacy += 1;
                }
            }
        }
    }
    assert!(adoptable > 0 && legacy > 0);
    let differing_case = trust
        .secure_schools_existing_users
        .iter()
        .flat_map(|e| &e.users)
        .filter_map(|e| e.directory_user_id.as_ref().map(|id| (e, trust.user(id).unwrap())))
        .filter(|(e, u)| e.email != Trust::sync_email(u))
        .count();
    assert!(differing_case > 0, "adoption must compare emails case-insensitively");
    assert!(emails_by_org.values().any(|orgs| orgs.len() > 1), "the same email in two organisations");
}

#[test]
fn every_member_reference_resolves_and_ids_look_like_guids() {
    let trust = TrustSpec { nesting_depth: 3, ..TrustSpec::small() }.generate();
    let users: HashSet<&str> = trust.directory.users.iter().map(|u| u.id.as_str()).collect();
    let groups: HashSet<&str> = trust.directory.groups.iter().map(|g| g.id.as_str()).collect();
    assert_eq!(groups.len(), trust.directory.groups.len(), "group ids are unique");
    for g in &trust.directory.groups {
        for m in &g.members {
            match m {
                MemberRef::User(id) => assert!(users.contains(id.as_str()), "{} → user {id}", g.display_name),
                MemberRef::Group(id) => assert!(groups.contains(id.as_str()), "{} → group {id}", g.display_name),
            }
        }
    }
    let guid = |s: &str| {
        s.len() == 36
            && s.chars()
                .enumerate()
                .all(|(i, c)| if [8, 13, 18, 23].contains(&i) { c == '-' } else { c.is_ascii_hexdigit() })
    };
    assert!(trust.directory.users.iter().all(|u| guid(&u.id)));
    assert!(trust.directory.groups.iter().all(|g| guid(&g.id)));
    assert!(guid(&trust.directory.tenant_id));
}

#[test]
fn the_admin_is_in_the_directory_and_seeds_secure_schools() {
    let trust = TrustSpec::small().generate();
    let admin = trust.user(&trust.admin.directory_user_id).unwrap();
    assert_eq!(admin.user_principal_name, trust.admin.email, "exactly the same account, no alias");
    let fake = FakeSecureSchools::new();
    trust.seed_secure_schools(&fake).unwrap();
    assert_eq!(fake.organisations().len(), trust.schools.len());
    let identity = fake.identity(&trust.admin.token).unwrap();
    assert_eq!(identity.email, admin.user_principal_name);
    assert!(trust.schools.iter().all(|s| identity.is_admin_of(&s.organisation_id)));
    for existing in &trust.secure_schools_existing_users {
        let users = fake.users(&existing.organisation_id);
        assert_eq!(users.len(), existing.users.len());
        assert!(users.iter().all(|u| !u.managed_by_sync && u.external_id.is_none()));
        assert!(users.iter().any(|u| u.role == UserRole::Governor));
    }
}

#[test]
fn a_100_000_user_trust_generates() {
    let spec = TrustSpec::with_users(100_000);
    let trust = spec.generate();
    assert_eq!(trust.directory.users.len(), spec.expected_users());
    assert_eq!(trust.schools.len(), 100);
    let fake = FakeSecureSchools::new();
    trust.seed_secure_schools(&fake).unwrap();
}
