//! Generating a synthetic trust from a [`TrustSpec`].
//!
//! Every school draws from its own random stream derived from the seed, so schools are generated in parallel and
//! still come out byte for byte the same; the few things that cross schools (staff who work at two schools, the
//! trust-wide groups) are done afterwards, in order, from a stream of their own.

use super::model::{Directory, DirectoryGroup, DirectoryGroupKind, DirectoryUser, MemberRef};
use super::names::{self, Name};
use super::rng::{Rng, Selection, fnv1a, guid, hex, share};
use crate::secure_schools::{FakeSecureSchools, Identity, NewUser, Organisation, StateError, UserRole, UserStatus};
use serde::Serialize;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::fmt::Write as _;
use std::ops::Range;

/// Users the trust has outside its schools: the syncing admin.
pub const TRUST_LEVEL_USERS: usize = 1;

/// What to generate. Fields are public: start from [`TrustSpec::small`] or [`TrustSpec::with_users`] and change
/// what a test needs (`TrustSpec { seed: 7, ..TrustSpec::small() }`).
///
/// A fraction `f` of `n` things means `round(f × n)` of them, but at least one whenever `f > 0`, so that a small
/// trust still shows every feature asked for. Fractions are per school.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrustSpec {
    /// The seed: the same spec gives the same trust, byte for byte.
    pub seed: u64,
    /// Schools (organisations).
    pub schools: usize,
    /// Staff per school.
    pub staff_per_school: usize,
    /// Students per school.
    pub students_per_school: usize,
    /// Year groups per school (1 to 14); students are spread evenly over them.
    pub year_groups: usize,
    /// Levels of nested security groups under each school's students group (1 to 3): 1 = year groups; 2 = key
    /// stages containing year groups; 3 = key stages, year groups, then forms.
    pub nesting_depth: usize,
    /// Microsoft 365 groups per school (not syncable: a sync must refuse them).
    pub m365_groups_per_school: usize,
    /// Accounts blocked from sign-in (`accountEnabled: false`).
    pub disabled_fraction: f64,
    /// Users also in an extra security group (a club, a team), so that users are in several groups.
    pub extra_group_fraction: f64,
    /// Students (of the student count) who are also direct members of their school's staff group (role precedence).
    pub staff_and_student_fraction: f64,
    /// Staff (of the staff count) who also work at another school of the trust: members of its staff group too,
    /// and already users of both organisations in Secure Schools (the same email in two organisations).
    pub shared_staff_fraction: f64,
    /// Directory users who already exist in their organisation in Secure Schools, unmanaged, with the same email
    /// in different letter case (to be adopted, not duplicated).
    pub existing_user_fraction: f64,
    /// Users per organisation that exist only in Secure Schools (former staff, governors): a sync must not touch
    /// them.
    pub legacy_users_per_school: usize,
    /// Chance that a name is drawn from the international lists (apostrophes, diacritics, non-Latin scripts).
    pub international_name_fraction: f64,
    /// Staff who are guest accounts (`userType: Guest`, `#EXT#` sign-in names).
    pub guest_fraction: f64,
    /// Staff whose `mail` differs from their sign-in name (an alias).
    pub alias_mail_fraction: f64,
    /// Students without a mailbox (`mail` null).
    pub students_without_mail_fraction: f64,
    /// Users without a given name (`givenName` null).
    pub missing_given_name_fraction: f64,
}

impl Default for TrustSpec {
    fn default() -> TrustSpec {
        TrustSpec::small()
    }
}

impl TrustSpec {
    /// Three schools of 12 staff and 40 students, every feature present: what most tests want.
    pub fn small() -> TrustSpec {
        TrustSpec {
            seed: 42,
            schools: 3,
            staff_per_school: 12,
            students_per_school: 40,
            year_groups: 7,
            nesting_depth: 2,
            m365_groups_per_school: 2,
            disabled_fraction: 0.02,
            extra_group_fraction: 0.10,
            staff_and_student_fraction: 0.01,
            shared_staff_fraction: 0.02,
            existing_user_fraction: 0.05,
            legacy_users_per_school: 2,
            international_name_fraction: 0.3,
            guest_fraction: 0.01,
            alias_mail_fraction: 0.05,
            students_without_mail_fraction: 0.10,
            missing_given_name_fraction: 0.005,
        }
    }

    /// About `n` school users (exactly `n` when it is a multiple of the number of schools), in schools of about
    /// 1,000 (one in ten staff), plus [`TRUST_LEVEL_USERS`]. `with_users(1_000_000)` is 1,000 schools of 100 staff
    /// and 900 students.
    pub fn with_users(n: usize) -> TrustSpec {
        let schools = n.div_ceil(1000).max(1);
        let per_school = n / schools;
        let staff = if per_school > 1 { (per_school / 10).max(1) } else { per_school };
        TrustSpec { schools, staff_per_school: staff, students_per_school: per_school - staff, ..TrustSpec::small() }
    }

    /// The same spec with another seed.
    pub fn seed(mut self, seed: u64) -> TrustSpec {
        self.seed = seed;
        self
    }

    /// Users of one school.
    pub fn users_per_school(&self) -> usize {
        self.staff_per_school + self.students_per_school
    }

    /// Users of the whole directory: every school's plus [`TRUST_LEVEL_USERS`].
    pub fn expected_users(&self) -> usize {
        TRUST_LEVEL_USERS + self.schools * self.users_per_school()
    }

    /// The trust.
    pub fn generate(&self) -> Trust {
        generate(self)
    }

    fn normalised(&self) -> TrustSpec {
        TrustSpec {
            year_groups: self.year_groups.clamp(1, 14),
            nesting_depth: self.nesting_depth.clamp(1, 3),
            ..self.clone()
        }
    }
}

/// One school: its Secure Schools organisation and where its people and groups are in the directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SchoolInfo {
    /// The Secure Schools organisation id (`org_<slug>`).
    pub organisation_id: String,
    /// Its name (may hold apostrophes and diacritics).
    pub name: String,
    /// Unique Reference Number (six digits).
    pub urn: String,
    /// The school's email domain (ASCII).
    pub domain: String,
    /// `primary` or `secondary`.
    pub phase: String,
    /// The school's own staff, as indexes into [`Directory::users`].
    pub staff: Range<usize>,
    /// The school's own students, as indexes into [`Directory::users`].
    pub students: Range<usize>,
    /// Security group of all staff (direct members), plus visiting staff of other schools and the few students
    /// who are also staff.
    pub staff_group_id: String,
    /// Security group of all students, through nested groups only.
    pub student_group_id: String,
    /// Key stage security groups, nested in the students group (nesting depth 2 and more).
    pub key_stage_group_ids: Vec<String>,
    /// Year group security groups (Reception, Year 1 …), one per year.
    pub year_group_ids: Vec<String>,
    /// Form security groups nested in the year groups (nesting depth 3).
    pub form_group_ids: Vec<String>,
    /// Mail-enabled security group "All Staff".
    pub all_staff_group_id: String,
    /// Distribution list "Announcements" (contains the All Staff group and the office staff).
    pub distribution_group_id: String,
    /// Microsoft 365 groups (teams): not syncable.
    pub m365_group_ids: Vec<String>,
    /// Dynamic security group of teaching staff (with its membership rule; members as evaluated).
    pub dynamic_group_id: String,
    /// Extra security groups (clubs, teams) that some users are also in.
    pub extra_group_ids: Vec<String>,
    /// Directory ids of staff of other schools who also work here (members of this staff group).
    pub visiting_staff_ids: Vec<String>,
}

/// The trust-wide groups.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TrustGroups {
    /// Security group containing every school's staff group (nesting across schools).
    pub all_staff_group_id: String,
    /// Security group containing every school's students group (the deepest nesting).
    pub all_students_group_id: String,
    /// Security group of the trust's IT admins (the syncing admin).
    pub it_admins_group_id: String,
    /// Microsoft 365 group of the trust's leadership (the admin and every headteacher).
    pub leadership_group_id: String,
}

/// The account that syncs: a directory user, and the Secure Schools identity with the same email that is an
/// admin of every organisation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AdminIdentity {
    /// Its bearer token for the Secure Schools fake.
    pub token: String,
    /// Its Secure Schools identity id.
    pub identity_id: String,
    /// Its email: exactly the directory user's sign-in name (no alias).
    pub email: String,
    /// Display name.
    pub name: String,
    /// Its directory object id.
    pub directory_user_id: String,
}

/// A user who exists in a Secure Schools organisation before any sync (`managed_by_sync: false`, no external id).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExistingUser {
    /// Email, possibly in a different letter case from the directory's.
    pub email: String,
    /// Given name.
    pub first_name: String,
    /// Family name.
    pub last_name: String,
    /// Role.
    pub role: UserRole,
    /// Status.
    pub status: UserStatus,
    /// The directory user a sync should adopt this user as (same email, case-insensitively), if any: the ground
    /// truth for adoption tests. `None` for users who are only in Secure Schools.
    pub directory_user_id: Option<String>,
}

impl ExistingUser {
    /// As a user to add to the fake.
    pub fn to_new_user(&self) -> NewUser {
        NewUser::new(&self.email, &self.first_name, &self.last_name, self.role.clone()).status(self.status.clone())
    }
}

/// The pre-existing users of one organisation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExistingUsers {
    /// The organisation.
    pub organisation_id: String,
    /// Its users before any sync, in the order to add them.
    pub users: Vec<ExistingUser>,
}

/// A generated trust: the Entra ID directory, the schools as Secure Schools organisations, the users that exist
/// there already, and the syncing admin.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Trust {
    /// The spec it was generated from (with year groups and nesting depth clamped to their ranges).
    pub spec: TrustSpec,
    /// The trust's name.
    pub name: String,
    /// The tenant.
    pub directory: Directory,
    /// Its schools, in the order they were generated (not sorted by organisation id).
    pub schools: Vec<SchoolInfo>,
    /// Trust-wide groups.
    pub trust_groups: TrustGroups,
    /// The syncing admin.
    pub admin: AdminIdentity,
    /// Users already in Secure Schools, per organisation (one entry per school, in school order).
    pub secure_schools_existing_users: Vec<ExistingUsers>,
}

impl Trust {
    /// The address a sync would give Secure Schools for a directory user: `mail`, else the sign-in name.
    pub fn sync_email(user: &DirectoryUser) -> &str {
        user.mail.as_deref().unwrap_or(&user.user_principal_name)
    }

    /// The school with this organisation id.
    pub fn school(&self, organisation_id: &str) -> Option<&SchoolInfo> {
        self.schools.iter().find(|s| s.organisation_id == organisation_id)
    }

    /// A directory user by object id (a linear search: for tests).
    pub fn user(&self, id: &str) -> Option<&DirectoryUser> {
        self.directory.users.iter().find(|u| u.id == id)
    }

    /// A directory group by object id (a linear search: for tests).
    pub fn group(&self, id: &str) -> Option<&DirectoryGroup> {
        self.directory.groups.iter().find(|g| g.id == id)
    }

    /// The ids of every user in a group, through nested groups at any depth (what Graph's `transitiveMembers`
    /// answers, users only), sorted. Cycles are followed once.
    pub fn transitive_user_ids(&self, group_id: &str) -> BTreeSet<&str> {
        let groups: HashMap<&str, &DirectoryGroup> = self.directory.groups.iter().map(|g| (g.id.as_str(), g)).collect();
        let mut users = BTreeSet::new();
        let mut seen = HashSet::new();
        let mut stack = vec![group_id];
        while let Some(id) = stack.pop() {
            if !seen.insert(id) {
                continue;
            }
            for member in groups.get(id).map(|g| g.members.as_slice()).unwrap_or_default() {
                match member {
                    MemberRef::User(u) => {
                        users.insert(u.as_str());
                    }
                    MemberRef::Group(g) => stack.push(g.as_str()),
                }
            }
        }
        users
    }

    /// The admin's Secure Schools identity: an `admin` of every organisation.
    pub fn admin_identity(&self) -> Identity {
        self.schools
            .iter()
            .fold(Identity::new(&self.admin.identity_id, &self.admin.email, &self.admin.name), |identity, school| {
                identity.admin_of(&school.organisation_id)
            })
    }

    /// The schools as Secure Schools organisations.
    pub fn organisations(&self) -> Vec<Organisation> {
        self.schools.iter().map(|s| Organisation::new(&s.organisation_id, &s.name, &s.urn)).collect()
    }

    /// Loads the Secure Schools side into a fake: the organisations, the admin identity under
    /// [`AdminIdentity::token`], and the pre-existing users. (The Graph side is loaded from
    /// [`directory`](Trust::directory).)
    pub fn seed_secure_schools(&self, fake: &FakeSecureSchools) -> Result<(), StateError> {
        for organisation in self.organisations() {
            fake.add_organisation(organisation)?;
        }
        fake.add_identity(&self.admin.token, self.admin_identity());
        for existing in &self.secure_schools_existing_users {
            fake.add_users(&existing.organisation_id, existing.users.iter().map(ExistingUser::to_new_user))?;
        }
        Ok(())
    }
}

// Labels of the random streams.
const STREAM_TRUST: u64 = 1;
const STREAM_SCHOOL: u64 = 2;
const STREAM_CROSS: u64 = 3;
const STREAM_SCHOOL_META: u64 = 4;

/// What is fixed about a school before its people are generated.
#[derive(Debug, Clone)]
struct SchoolMeta {
    index: usize,
    name: String,
    domain: String,
    organisation_id: String,
    urn: String,
    primary: bool,
    /// The year of the first year group (0 = Reception, 7 = Year 7).
    first_year: usize,
    /// The tenant's `onmicrosoft.com` prefix, for guest sign-in names.
    tenant_slug: String,
}

/// One school's share of the directory.
#[derive(Debug)]
struct SchoolOut {
    info: SchoolInfo,
    users: Vec<DirectoryUser>,
    groups: Vec<DirectoryGroup>,
    existing: Vec<ExistingUser>,
}

/// Generates a trust. See [`TrustSpec`].
pub fn generate(spec: &TrustSpec) -> Trust {
    let spec = spec.normalised();
    let mut rng = Rng::stream(spec.seed, STREAM_TRUST, 0);
    let &(trust_name, trust_slug) = rng.pick(names::TRUSTS).unwrap_or(&("Trust", "trust"));
    let domain = format!("{trust_slug}.org.uk");
    let tenant_id = guid(&mut rng);
    let metas = school_metas(&spec, &mut rng, trust_slug);

    let admin_user = DirectoryUser {
        id: guid(&mut rng),
        user_principal_name: format!("it.admin@{domain}"),
        mail: Some(format!("it.admin@{domain}")),
        given_name: Some("IT".to_owned()),
        surname: Some("Admin".to_owned()),
        display_name: "IT Admin".to_owned(),
        account_enabled: true,
        job_title: Some("Trust IT Manager".to_owned()),
        department: Some("Trust IT".to_owned()),
        employee_id: None,
        user_type: "Member".to_owned(),
    };
    let admin = AdminIdentity {
        token: format!("ssk_{}", hex(&mut rng, 32)),
        identity_id: format!("p_{}", hex(&mut rng, 10)),
        email: admin_user.user_principal_name.clone(),
        name: admin_user.display_name.clone(),
        directory_user_id: admin_user.id.clone(),
    };
    let trust_groups = TrustGroups {
        all_staff_group_id: guid(&mut rng),
        all_students_group_id: guid(&mut rng),
        it_admins_group_id: guid(&mut rng),
        leadership_group_id: guid(&mut rng),
    };

    let outs = generate_schools(&spec, &metas);

    let mut users = Vec::with_capacity(spec.expected_users());
    users.push(admin_user);
    let groups_per_school = outs.first().map_or(0, |o| o.groups.len());
    let mut groups = Vec::with_capacity(4 + outs.len() * groups_per_school);
    let mut schools = Vec::with_capacity(outs.len());
    let mut existing = Vec::with_capacity(outs.len());
    // Where each school's staff group lands in `groups` (it is the first group of each school).
    let mut staff_group_at = Vec::with_capacity(outs.len());
    groups.extend(trust_level_groups(&trust_groups, &admin.directory_user_id));
    for out in outs {
        staff_group_at.push(groups.len());
        users.extend(out.users);
        groups.extend(out.groups);
        existing.push(ExistingUsers { organisation_id: out.info.organisation_id.clone(), users: out.existing });
        schools.push(out.info);
    }
    fill_trust_level_groups(&mut groups, &schools, &users);
    share_staff(&spec, &users, &mut groups, &staff_group_at, &mut schools, &mut existing);

    Trust {
        spec,
        name: trust_name.to_owned(),
        directory: Directory { tenant_id, tenant_name: trust_name.to_owned(), domain, users, groups },
        schools,
        trust_groups,
        admin,
        secure_schools_existing_users: existing,
    }
}

fn school_metas(spec: &TrustSpec, rng: &mut Rng, tenant_slug: &str) -> Vec<SchoolMeta> {
    let urn_base = 100_000 + rng.below(400_000);
    let mut slugs = HashSet::with_capacity(spec.schools);
    (0..spec.schools)
        .map(|index| {
            let mut rng = Rng::stream(spec.seed, STREAM_SCHOOL_META, index as u64);
            // One school in three is a secondary.
            let primary = index % 3 != 2;
            let kinds = if primary { names::PRIMARY_KINDS } else { names::SECONDARY_KINDS };
            let &(base, base_slug) = rng.pick(names::SCHOOL_BASES).unwrap_or(&("School", "school"));
            let &(kind, kind_slug) = rng.pick(kinds).unwrap_or(&("School", "school"));
            let mut name = format!("{base} {kind}");
            let mut slug = format!("{base_slug}-{kind_slug}");
            if !slugs.insert(slug.clone()) {
                let town = names::TOWNS[index % names::TOWNS.len()];
                let _ = write!(name, ", {town}");
                let _ = write!(slug, "-{}", index + 1);
                slugs.insert(slug.clone());
            }
            SchoolMeta {
                index,
                domain: format!("{slug}.sch.uk"),
                organisation_id: format!("org_{}", slug.replace('-', "_")),
                name,
                urn: (urn_base + index).to_string(),
                primary,
                first_year: if primary { 0 } else { 7 },
                tenant_slug: tenant_slug.to_owned(),
            }
        })
        .collect()
}

/// Generates every school, on as many threads as there are cores, keeping school order.
fn generate_schools(spec: &TrustSpec, metas: &[SchoolMeta]) -> Vec<SchoolOut> {
    if metas.is_empty() {
        return Vec::new();
    }
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, metas.len());
    let per_thread = metas.len().div_ceil(threads);
    let per_school = spec.users_per_school();
    std::thread::scope(|scope| {
        let run = move |chunk: &[SchoolMeta]| -> Vec<SchoolOut> {
            chunk.iter().map(|m| generate_school(spec, m, TRUST_LEVEL_USERS + m.index * per_school)).collect()
        };
        let handles: Vec<_> = metas.chunks(per_thread).map(|chunk| (chunk, scope.spawn(move || run(chunk)))).collect();
        // A thread that failed is redone here: the result is the same, as every school has its own stream.
        handles.into_iter().flat_map(|(chunk, handle)| handle.join().unwrap_or_else(|_| run(chunk))).collect()
    })
}

/// The name of a year: 0 is Reception.
fn year_name(year: usize) -> String {
    if year == 0 { "Reception".to_owned() } else { format!("Year {year}") }
}

fn year_short(year: usize) -> String {
    if year == 0 { "R".to_owned() } else { year.to_string() }
}

/// A person's names: (given, given ASCII) and (surname, surname ASCII).
fn person(rng: &mut Rng, international: f64) -> (Name, Name) {
    let firsts = if rng.chance(international) { names::FIRST_INTERNATIONAL } else { names::FIRST_COMMON };
    let lasts = if rng.chance(international) { names::LAST_INTERNATIONAL } else { names::LAST_COMMON };
    let first = *rng.pick(firsts).unwrap_or(&("Alex", "alex"));
    let last = *rng.pick(lasts).unwrap_or(&("Smith", "smith"));
    (first, last)
}

/// Makes `local` unique among the local parts already `taken` in one domain, by appending 2, 3, … if needed.
/// Fingerprints stand in for the strings: a fingerprint clash only adds a needless number.
fn make_unique(local: &mut String, taken: &mut HashSet<u64>) {
    if taken.insert(fnv1a(&[local.as_bytes()])) {
        return;
    }
    let base_len = local.len();
    for n in 2u32.. {
        local.truncate(base_len);
        let _ = write!(local, "{n}");
        if taken.insert(fnv1a(&[local.as_bytes()])) {
            return;
        }
    }
}

fn email(local: &str, domain: &str) -> String {
    let mut s = String::with_capacity(local.len() + 1 + domain.len());
    s.push_str(local);
    s.push('@');
    s.push_str(domain);
    s
}

fn display_name(given: Option<&str>, surname: &str) -> String {
    match given {
        Some(given) => {
            let mut s = String::with_capacity(given.len() + 1 + surname.len());
            s.push_str(given);
            s.push(' ');
            s.push_str(surname);
            s
        }
        None => surname.to_owned(),
    }
}

/// The same address in another letter case, as someone typing it by hand would have entered it.
fn vary_case(address: &str, style: usize) -> String {
    let (local, domain) = address.split_once('@').unwrap_or((address, ""));
    match style {
        0 => {
            let mut out = String::with_capacity(address.len());
            let mut capital = true;
            for c in local.chars() {
                if capital {
                    out.extend(c.to_uppercase())
                } else {
                    out.push(c)
                }
                capital = matches!(c, '.' | '-');
            }
            out.push('@');
            out.push_str(domain);
            out
        }
        1 => format!("{local}@{}", domain.to_uppercase()),
        _ => address.to_uppercase(),
    }
}

fn group(
    rng: &mut Rng,
    display_name: String,
    kind: DirectoryGroupKind,
    mail: Option<String>,
    members: Vec<MemberRef>,
) -> DirectoryGroup {
    DirectoryGroup {
        id: guid(rng),
        description: Some(format!("{display_name} (synthetic)")),
        display_name,
        mail,
        kind,
        membership_rule: None,
        members,
    }
}

fn user_refs<'a>(users: &'a [DirectoryUser], indexes: impl IntoIterator<Item = &'a usize>) -> Vec<MemberRef> {
    indexes.into_iter().map(|&i| MemberRef::User(users[i].id.clone())).collect()
}

/// One school: its staff, then its students, then its groups and its pre-existing Secure Schools users.
fn generate_school(spec: &TrustSpec, meta: &SchoolMeta, first_index: usize) -> SchoolOut {
    let mut rng = Rng::stream(spec.seed, STREAM_SCHOOL, meta.index as u64);
    let (n_staff, n_students) = (spec.staff_per_school, spec.students_per_school);
    let n = n_staff + n_students;
    let years = spec.year_groups;
    let intl = spec.international_name_fraction;
    let mut users: Vec<DirectoryUser> = Vec::with_capacity(n);
    let mut taken: HashSet<u64> = HashSet::with_capacity(n + n / 4);
    let mut disabled = Selection::new(share(spec.disabled_fraction, n), n);
    let mut no_given = Selection::new(share(spec.missing_given_name_fraction, n), n);
    let mut guests = Selection::new(share(spec.guest_fraction, n_staff.saturating_sub(1)), n_staff.saturating_sub(1));
    let mut aliases = Selection::new(share(spec.alias_mail_fraction, n_staff), n_staff);
    let mut no_mail = Selection::new(share(spec.students_without_mail_fraction, n_students), n_students);
    let mut local = String::with_capacity(48);

    // Staff. The first is the headteacher.
    let mut teaching = Vec::new();
    let mut office = Vec::new();
    for i in 0..n_staff {
        let ((given, given_ascii), (surname, surname_ascii)) = person(&mut rng, intl);
        let given = if no_given.next(&mut rng) { None } else { Some(given) };
        let (department, titles) = if i == 0 {
            ("Teaching", &["Headteacher"][..])
        } else {
            let &(d, t) = match rng.below(10) {
                0..=5 => &names::STAFF_ROLES[0],
                6..=8 => &names::STAFF_ROLES[1],
                _ => &names::STAFF_ROLES[2],
            };
            (d, t)
        };
        let job = *rng.pick(titles).unwrap_or(&"Teacher");
        let guest = i > 0 && guests.next(&mut rng);
        let alias = aliases.next(&mut rng) && !guest;
        local.clear();
        if given.is_some() {
            local.push_str(given_ascii);
            local.push('.');
        }
        local.push_str(surname_ascii);
        let (upn, mail, user_type) = if guest {
            let guest_domain = *rng.pick(names::GUEST_DOMAINS).unwrap_or(&"guest.example");
            let _ = write!(local, ".{}", meta.urn);
            make_unique(&mut local, &mut taken);
            let upn = format!("{local}_{guest_domain}#EXT#@{}.onmicrosoft.com", meta.tenant_slug);
            (upn, Some(email(&local, guest_domain)), "Guest")
        } else if alias {
            // Signs in as an old-style name; mail goes to first.last.
            make_unique(&mut local, &mut taken);
            let mail = email(&local, &meta.domain);
            local.clear();
            local.push_str(&given_ascii[..given_ascii.len().min(1)]);
            local.push_str(surname_ascii);
            make_unique(&mut local, &mut taken);
            (email(&local, &meta.domain), Some(mail), "Member")
        } else {
            make_unique(&mut local, &mut taken);
            let upn = email(&local, &meta.domain);
            (upn.clone(), Some(upn), "Member")
        };
        if department == "Teaching" && !guest {
            teaching.push(i);
        }
        if department == "Administration" {
            office.push(i);
        }
        users.push(DirectoryUser {
            id: guid(&mut rng),
            user_principal_name: upn,
            mail,
            given_name: given.map(str::to_owned),
            surname: Some(surname.to_owned()),
            display_name: display_name(given, surname),
            account_enabled: !disabled.next(&mut rng),
            job_title: Some(job.to_owned()),
            department: Some(department.to_owned()),
            employee_id: Some(format!("E{}{i:04}", meta.urn)),
            user_type: user_type.to_owned(),
        });
    }

    // Students, spread evenly over the year groups.
    let year_names: Vec<String> = (0..years).map(|y| year_name(meta.first_year + y)).collect();
    let mut by_year: Vec<Vec<usize>> = vec![Vec::with_capacity(n_students / years + 1); years];
    for j in 0..n_students {
        let ((given, given_ascii), (surname, surname_ascii)) = person(&mut rng, intl);
        let given = if no_given.next(&mut rng) { None } else { Some(given) };
        let year = j % years;
        // Intake year, two digits: the younger the year group, the later the intake.
        let intake = 25 - (year % 25);
        local.clear();
        let _ = write!(local, "{intake:02}{surname_ascii}");
        local.push_str(&given_ascii[..given_ascii.len().min(1)]);
        make_unique(&mut local, &mut taken);
        let upn = email(&local, &meta.domain);
        let mail = if no_mail.next(&mut rng) { None } else { Some(upn.clone()) };
        by_year[year].push(n_staff + j);
        users.push(DirectoryUser {
            id: guid(&mut rng),
            user_principal_name: upn,
            mail,
            given_name: given.map(str::to_owned),
            surname: Some(surname.to_owned()),
            display_name: display_name(given, surname),
            account_enabled: !disabled.next(&mut rng),
            job_title: None,
            department: Some(year_names[year].clone()),
            employee_id: Some(format!("S{}{j:05}", meta.urn)),
            user_type: "Member".to_owned(),
        });
    }

    // Groups. The staff group must stay first: the cross-school pass finds it there.
    let school = &meta.name;
    let staff: Vec<usize> = (0..n_staff).collect();
    let mut staff_members = user_refs(&users, &staff);
    let mut both = Selection::new(share(spec.staff_and_student_fraction, n_students), n_students);
    for j in 0..n_students {
        if both.next(&mut rng) {
            staff_members.push(MemberRef::User(users[n_staff + j].id.clone()));
        }
    }
    let staff_group = group(&mut rng, format!("{school} Staff"), DirectoryGroupKind::Security, None, staff_members);
    let depth = spec.nesting_depth;
    let mut form_groups = Vec::new();
    let mut year_groups = Vec::with_capacity(years);
    for (y, members) in by_year.iter().enumerate() {
        let year_members = if depth >= 3 {
            let short = year_short(meta.first_year + y);
            let forms: Vec<DirectoryGroup> = ["A", "B"]
                .iter()
                .enumerate()
                .map(|(f, letter)| {
                    let in_form = members.iter().skip(f).step_by(2);
                    let refs = user_refs(&users, in_form);
                    group(&mut rng, format!("{school} Form {short}{letter}"), DirectoryGroupKind::Security, None, refs)
                })
                .collect();
            let refs = forms.iter().map(|g| MemberRef::Group(g.id.clone())).collect();
            form_groups.extend(forms);
            refs
        } else {
            user_refs(&users, members)
        };
        let name = format!("{school} {}", year_names[y]);
        year_groups.push(group(&mut rng, name, DirectoryGroupKind::Security, None, year_members));
    }
    let mut key_stages = Vec::new();
    if depth >= 2 {
        for (k, chunk) in year_groups.chunks(3).enumerate() {
            let refs = chunk.iter().map(|g| MemberRef::Group(g.id.clone())).collect();
            let name = format!("{school} Key Stage Group {}", k + 1);
            key_stages.push(group(&mut rng, name, DirectoryGroupKind::Security, None, refs));
        }
    }
    let student_refs =
        if depth >= 2 { &key_stages } else { &year_groups }.iter().map(|g| MemberRef::Group(g.id.clone())).collect();
    let students_group =
        group(&mut rng, format!("{school} Students"), DirectoryGroupKind::Security, None, student_refs);
    let all_staff = group(
        &mut rng,
        format!("{school} All Staff"),
        DirectoryGroupKind::MailEnabledSecurity,
        Some(email("allstaff", &meta.domain)),
        user_refs(&users, &staff),
    );
    let mut announcement_members = vec![MemberRef::Group(all_staff.id.clone())];
    announcement_members.extend(user_refs(&users, &office));
    let distribution = group(
        &mut rng,
        format!("{school} Announcements"),
        DirectoryGroupKind::Distribution,
        Some(email("announcements", &meta.domain)),
        announcement_members,
    );
    let mut m365 = Vec::with_capacity(spec.m365_groups_per_school);
    for m in 0..spec.m365_groups_per_school {
        let (name, local, members) = if m == 0 {
            (format!("{school} Staff Team"), "staffteam".to_owned(), user_refs(&users, &teaching))
        } else {
            let y = (m - 1) % years;
            let mut members = user_refs(&users, &by_year[y]);
            members.extend(user_refs(&users, staff.first()));
            let short = year_short(meta.first_year + y).to_lowercase();
            (format!("{school} {} Class Team {m}", year_names[y]), format!("year{short}team{m}"), members)
        };
        m365.push(group(&mut rng, name, DirectoryGroupKind::Microsoft365, Some(email(&local, &meta.domain)), members));
    }
    let mut dynamic = group(
        &mut rng,
        format!("{school} Teaching Staff (dynamic)"),
        DirectoryGroupKind::Security,
        None,
        user_refs(&users, &teaching),
    );
    dynamic.membership_rule =
        Some(format!("(user.department -eq \"Teaching\") -and (user.userPrincipalName -match \"@{}$\")", meta.domain));
    // Extra groups: two for staff, two for students; a chosen user joins one, sometimes both.
    let extra_names = ["Safeguarding Team", "Heads of Department", "Student Council", "Sports Teams"];
    let mut extras: Vec<Vec<MemberRef>> = vec![Vec::new(); 4];
    let mut extra_staff = Selection::new(share(spec.extra_group_fraction, n_staff), n_staff);
    let mut extra_students = Selection::new(share(spec.extra_group_fraction, n_students), n_students);
    for (i, user) in users.iter().enumerate() {
        let (chosen, offset) =
            if i < n_staff { (extra_staff.next(&mut rng), 0) } else { (extra_students.next(&mut rng), 2) };
        if chosen {
            let which = rng.below(2);
            extras[offset + which].push(MemberRef::User(user.id.clone()));
            if rng.chance(0.3) {
                extras[offset + 1 - which].push(MemberRef::User(user.id.clone()));
            }
        }
    }
    let extra_groups: Vec<DirectoryGroup> = extras
        .into_iter()
        .zip(extra_names)
        .map(|(members, name)| group(&mut rng, format!("{school} {name}"), DirectoryGroupKind::Security, None, members))
        .collect();

    // Users already in Secure Schools: some directory users, with their email in another case; and a few who are
    // only there.
    let mut existing = Vec::new();
    let mut pick_existing = Selection::new(share(spec.existing_user_fraction, n), n);
    for (i, u) in users.iter().enumerate() {
        if pick_existing.next(&mut rng) {
            existing.push(existing_from(
                u,
                if i < n_staff { UserRole::Staff } else { UserRole::Student },
                rng.below(3),
            ));
        }
    }
    for k in 0..spec.legacy_users_per_school {
        let ((given, given_ascii), (surname, surname_ascii)) = person(&mut rng, intl);
        local.clear();
        let _ = write!(local, "former.{given_ascii}.{surname_ascii}");
        make_unique(&mut local, &mut taken);
        existing.push(ExistingUser {
            email: email(&local, &meta.domain),
            first_name: given.to_owned(),
            last_name: surname.to_owned(),
            role: if k % 2 == 0 { UserRole::Governor } else { UserRole::Staff },
            status: if k == 0 { UserStatus::Suspended } else { UserStatus::Active },
            directory_user_id: None,
        });
    }

    let info = SchoolInfo {
        organisation_id: meta.organisation_id.clone(),
        name: meta.name.clone(),
        urn: meta.urn.clone(),
        domain: meta.domain.clone(),
        phase: if meta.primary { "primary" } else { "secondary" }.to_owned(),
        staff: first_index..first_index + n_staff,
        students: first_index + n_staff..first_index + n,
        staff_group_id: staff_group.id.clone(),
        student_group_id: students_group.id.clone(),
        key_stage_group_ids: key_stages.iter().map(|g| g.id.clone()).collect(),
        year_group_ids: year_groups.iter().map(|g| g.id.clone()).collect(),
        form_group_ids: form_groups.iter().map(|g| g.id.clone()).collect(),
        all_staff_group_id: all_staff.id.clone(),
        distribution_group_id: distribution.id.clone(),
        m365_group_ids: m365.iter().map(|g| g.id.clone()).collect(),
        dynamic_group_id: dynamic.id.clone(),
        extra_group_ids: extra_groups.iter().map(|g| g.id.clone()).collect(),
        visiting_staff_ids: Vec::new(),
    };
    let mut groups = Vec::with_capacity(8 + key_stages.len() + year_groups.len() + form_groups.len() + m365.len());
    groups.push(staff_group);
    groups.push(students_group);
    groups.extend(key_stages);
    groups.extend(year_groups);
    groups.extend(form_groups);
    groups.push(all_staff);
    groups.push(distribution);
    groups.extend(m365);
    groups.push(dynamic);
    groups.extend(extra_groups);
    SchoolOut { info, users, groups, existing }
}

/// The Secure Schools user that a directory user already is, entered by hand with its email in another case.
fn existing_from(user: &DirectoryUser, role: UserRole, style: usize) -> ExistingUser {
    ExistingUser {
        email: vary_case(Trust::sync_email(user), style),
        first_name: user.given_name.clone().unwrap_or_else(|| user.display_name.clone()),
        last_name: user.surname.clone().unwrap_or_else(|| user.display_name.clone()),
        role,
        status: UserStatus::Active,
        directory_user_id: Some(user.id.clone()),
    }
}

/// The trust-wide groups, members still to fill.
fn trust_level_groups(ids: &TrustGroups, admin_id: &str) -> Vec<DirectoryGroup> {
    let make = |id: &str, name: &str, kind, mail: Option<&str>, members| DirectoryGroup {
        id: id.to_owned(),
        display_name: name.to_owned(),
        description: Some(format!("{name} (synthetic)")),
        mail: mail.map(str::to_owned),
        kind,
        membership_rule: None,
        members,
    };
    vec![
        make(&ids.all_staff_group_id, "Trust All Staff", DirectoryGroupKind::Security, None, Vec::new()),
        make(&ids.all_students_group_id, "Trust All Students", DirectoryGroupKind::Security, None, Vec::new()),
        make(
            &ids.it_admins_group_id,
            "Trust IT Admins",
            DirectoryGroupKind::Security,
            None,
            vec![MemberRef::User(admin_id.to_owned())],
        ),
        make(
            &ids.leadership_group_id,
            "Trust Leadership",
            DirectoryGroupKind::Microsoft365,
            Some("leadership@trust.invalid"),
            vec![MemberRef::User(admin_id.to_owned())],
        ),
    ]
}

/// Nests every school's staff and students groups in the trust-wide ones, and puts headteachers in leadership.
fn fill_trust_level_groups(groups: &mut [DirectoryGroup], schools: &[SchoolInfo], users: &[DirectoryUser]) {
    if let [all_staff, all_students, _, leadership, ..] = groups {
        for school in schools {
            all_staff.members.push(MemberRef::Group(school.staff_group_id.clone()));
            all_students.members.push(MemberRef::Group(school.student_group_id.clone()));
            if let Some(head) = users.get(school.staff.start).filter(|_| !school.staff.is_empty()) {
                leadership.members.push(MemberRef::User(head.id.clone()));
            }
        }
    }
}

/// Staff who also work at another school: members of its staff group, and already users of both organisations in
/// Secure Schools under the same email.
fn share_staff(
    spec: &TrustSpec,
    users: &[DirectoryUser],
    groups: &mut [DirectoryGroup],
    staff_group_at: &[usize],
    schools: &mut [SchoolInfo],
    existing: &mut [ExistingUsers],
) {
    let n = schools.len();
    if n < 2 {
        return;
    }
    let mut rng = Rng::stream(spec.seed, STREAM_CROSS, 0);
    for s in 0..n {
        let staff = schools[s].staff.clone();
        let mut chosen = Selection::new(share(spec.shared_staff_fraction, staff.len()), staff.len());
        for index in staff {
            if !chosen.next(&mut rng) {
                continue;
            }
            let t = (s + 1 + rng.below(n - 1)) % n;
            let user = &users[index];
            if let Some(g) = staff_group_at.get(t).and_then(|&at| groups.get_mut(at)) {
                g.members.push(MemberRef::User(user.id.clone()));
            }
            schools[t].visiting_staff_ids.push(user.id.clone());
            let here =
                ExistingUser { email: Trust::sync_email(user).to_owned(), ..existing_from(user, UserRole::Staff, 0) };
            if !existing[s].users.iter().any(|e| e.directory_user_id.as_deref() == Some(user.id.as_str())) {
                existing[s].users.push(here.clone());
            }
            existing[t].users.push(here);
        }
    }
}
