//! A small, fixed school trust for manual runs and examples: staff and pupils, every kind of group, nesting, and
//! an admin who holds the roles the Secure Schools sync needs.

use crate::synthetic::model::{Directory, DirectoryGroup, DirectoryGroupKind, DirectoryUser, MemberRef};

/// The sample tenant's id.
pub const TENANT_ID: &str = "5f1c7a2e-0b7d-4c39-9a4e-2d8f1e6b7c01";

/// The client id of the sample confidential app (client credentials).
pub const CLIENT_ID: &str = "0a1b2c3d-1111-4aaa-8bbb-000000000001";

/// The secret of the sample confidential app. It only opens this fake.
pub const CLIENT_SECRET: &str = "fake-graph-sample-secret";

/// The client id of the sample public app (device code flow).
pub const PUBLIC_CLIENT_ID: &str = "0a1b2c3d-1111-4aaa-8bbb-000000000002";

/// The object id of the sample admin (`admin@northfield.example`).
pub const ADMIN_ID: &str = "00000000-0000-4000-8000-000000000001";

/// Application Administrator (template id).
pub const APPLICATION_ADMINISTRATOR: &str = "9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3";

/// Cloud Application Administrator (template id).
pub const CLOUD_APPLICATION_ADMINISTRATOR: &str = "158c047a-c907-4556-b7ef-446551a6b5f7";

fn user(n: u32, upn: &str, given: &str, surname: &str, job: Option<&str>, dept: &str) -> DirectoryUser {
    DirectoryUser {
        id: format!("00000000-0000-4000-8000-{n:012}"),
        user_principal_name: upn.to_owned(),
        mail: Some(upn.to_owned()),
        given_name: Some(given.to_owned()),
        surname: Some(surname.to_owned()),
        display_name: format!("{given} {surname}"),
        account_enabled: true,
        job_title: job.map(str::to_owned),
        department: Some(dept.to_owned()),
        employee_id: Some(format!("E{n:05}")),
        user_type: "Member".to_owned(),
    }
}

fn gid(n: u32) -> String {
    format!("00000000-0000-4000-9000-{n:012}")
}

fn group(n: u32, name: &str, kind: DirectoryGroupKind, mail: Option<&str>, members: Vec<MemberRef>) -> DirectoryGroup {
    DirectoryGroup {
        id: gid(n),
        display_name: name.to_owned(),
        description: Some(format!("{name} (sample)")),
        mail: mail.map(str::to_owned),
        kind,
        membership_rule: None,
        members,
    }
}

/// The sample trust: 1 admin, 4 staff, 12 pupils; security groups `All Staff`, `Year 7` (nesting `7A` and `7B`)
/// and `All Pupils` (nesting both year groups), a mail-enabled security group, a distribution list, a Microsoft 365
/// group, and a dynamic group.
pub fn directory() -> Directory {
    let domain = "northfield.example";
    let mut users = vec![user(1, &format!("admin@{domain}"), "Alex", "Admin", Some("IT Manager"), "IT")];
    let staff = [
        ("Sam", "Patel", "Teacher of Maths"),
        ("Jo", "Okafor", "Teacher of English"),
        ("Ruth", "Byrne", "Head of Year 7"),
        ("Tom", "Nguyen", "Teaching Assistant"),
    ];
    for (i, (g, s, job)) in staff.iter().enumerate() {
        let n = 10 + i as u32;
        users.push(user(n, &format!("{}.{}@{domain}", g.to_lowercase(), s.to_lowercase()), g, s, Some(job), "Staff"));
    }
    let pupils = ["Ada", "Ben", "Cleo", "Dev", "Ema", "Finn", "Gus", "Hana", "Ivo", "Jude", "Kai", "Lena"];
    for (i, g) in pupils.iter().enumerate() {
        let n = 100 + i as u32;
        let year = if i < 8 { "Year 7" } else { "Year 8" };
        users.push(user(n, &format!("{}.pupil{n}@{domain}", g.to_lowercase()), g, &format!("Pupil{n}"), None, year));
    }
    let u = |n: u32| MemberRef::User(format!("00000000-0000-4000-8000-{n:012}"));
    let groups = vec![
        group(1, "All Staff", DirectoryGroupKind::Security, None, (10..14).map(u).chain([u(1)]).collect()),
        group(2, "7A", DirectoryGroupKind::Security, None, (100..104).map(u).collect()),
        group(3, "7B", DirectoryGroupKind::Security, None, (104..108).map(u).collect()),
        group(
            4,
            "Year 7",
            DirectoryGroupKind::Security,
            None,
            vec![MemberRef::Group(gid(2)), MemberRef::Group(gid(3)), u(12)],
        ),
        group(5, "Year 8", DirectoryGroupKind::Security, None, (108..112).map(u).collect()),
        group(
            6,
            "All Pupils",
            DirectoryGroupKind::Security,
            None,
            vec![MemberRef::Group(gid(4)), MemberRef::Group(gid(5))],
        ),
        group(
            7,
            "Staff Room",
            DirectoryGroupKind::MailEnabledSecurity,
            Some("staffroom@northfield.example"),
            (10..14).map(u).collect(),
        ),
        group(
            8,
            "Parents Newsletter",
            DirectoryGroupKind::Distribution,
            Some("newsletter@northfield.example"),
            vec![u(10), u(11)],
        ),
        group(
            9,
            "Maths Department",
            DirectoryGroupKind::Microsoft365,
            Some("maths@northfield.example"),
            vec![u(10), u(13)],
        ),
        DirectoryGroup {
            membership_rule: Some("user.department -eq \"Year 8\"".to_owned()),
            ..group(10, "Year 8 (dynamic)", DirectoryGroupKind::Security, None, (108..112).map(u).collect())
        },
    ];
    Directory {
        tenant_id: TENANT_ID.to_owned(),
        tenant_name: "Northfield Academy Trust".to_owned(),
        domain: domain.to_owned(),
        users,
        groups,
    }
}

/// A fake with the sample directory, the sample apps registered (the confidential one with `User.Read.All`,
/// `GroupMember.Read.All`, `Organization.Read.All` and `RoleManagement.Read.Directory`), and the admin holding
/// Application Administrator and Cloud Application Administrator.
pub fn fake() -> super::FakeGraph {
    let fake = super::FakeGraph::from_directory(&directory());
    fake.register_app(super::AppRegistration::confidential(CLIENT_ID, CLIENT_SECRET).with_application_permissions([
        "User.Read.All",
        "GroupMember.Read.All",
        "Organization.Read.All",
        "RoleManagement.Read.Directory",
    ]));
    fake.register_app(super::AppRegistration::public(PUBLIC_CLIENT_ID));
    // The ids are the sample's own, so these cannot fail.
    let _ = fake.assign_directory_role(ADMIN_ID, APPLICATION_ADMINISTRATOR, "Application Administrator");
    let _ = fake.assign_directory_role(ADMIN_ID, CLOUD_APPLICATION_ADMINISTRATOR, "Cloud Application Administrator");
    fake
}
