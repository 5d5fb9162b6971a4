//! A synthetic Google Workspace domain for a school trust, and a service account to reach it.
//!
//! Each school is an organisational unit at the top with `Staff` and `Students` under it, and each year group a
//! unit under `Students` (`/Northfield Academy/Students/Year 7`). Pupils sit in their year's unit (one per school
//! directly in `Students`), so only a sync that includes sub-units finds them. Per school one member of staff is
//! suspended, one pupil suspended and one archived. The IT admin the service account acts as lives in `/IT`, and
//! governors in `/Governors`, outside every school. Everything is a pure function of the [`GoogleDomainSpec`].
//!
//! The service account's RSA key is a fixed test key generated for this fake (`openssl genpkey -algorithm RSA
//! -pkeyopt rsa_keygen_bits:2048`); it opens nothing but the fake. A second key ([`ROGUE_KEY_PEM`]) is not
//! registered anywhere, to test that a wrongly signed assertion is refused.

use super::{FakeGoogle, ServiceAccount};
use serde_json::json;

/// The sample service account's email.
pub const SERVICE_ACCOUNT_EMAIL: &str = "rosterbridge-sync@rosterbridge-test.iam.gserviceaccount.com";
/// The sample service account's numeric client id (what an admin authorises under domain-wide delegation).
pub const SERVICE_ACCOUNT_CLIENT_ID: &str = "104727004242420010001";
/// The sample key's id.
pub const SERVICE_ACCOUNT_KEY_ID: &str = "3f1c0e8a9b7d6c5e4f3a2b1c0d9e8f7a6b5c4d3e";
/// The sample project.
pub const PROJECT_ID: &str = "rosterbridge-test";
/// The sample service account's private key (PKCS #8 PEM). Test-only: it opens nothing but the fake.
pub const SERVICE_ACCOUNT_KEY_PEM: &str = include_str!("sample-service-account.pem");
/// Another private key, registered nowhere: assertions signed with it must be refused.
pub const ROGUE_KEY_PEM: &str = include_str!("rogue-key.pem");

/// The scopes the sync asks for (read users, read organisational units).
pub const SCOPES: [&str; 2] = [
    "https://www.googleapis.com/auth/admin.directory.user.readonly",
    "https://www.googleapis.com/auth/admin.directory.orgunit.readonly",
];

/// A service account key file as the Google Cloud console writes it, with `token_uri` pointing at `token_uri`.
pub fn key_json(token_uri: &str, private_key_pem: &str) -> String {
    json!({
        "type": "service_account",
        "project_id": PROJECT_ID,
        "private_key_id": SERVICE_ACCOUNT_KEY_ID,
        "private_key": private_key_pem,
        "client_email": SERVICE_ACCOUNT_EMAIL,
        "client_id": SERVICE_ACCOUNT_CLIENT_ID,
        "auth_uri": "https://accounts.google.com/o/oauth2/auth",
        "token_uri": token_uri,
        "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
        "client_x509_cert_url": format!(
            "https://www.googleapis.com/robot/v1/metadata/x509/{}",
            SERVICE_ACCOUNT_EMAIL.replace('@', "%40")
        ),
        "universe_domain": "googleapis.com"
    })
    .to_string()
}

/// The sample service account, to register with [`FakeGoogle::register_service_account`].
pub fn service_account() -> ServiceAccount {
    ServiceAccount {
        client_email: SERVICE_ACCOUNT_EMAIL.into(),
        client_id: SERVICE_ACCOUNT_CLIENT_ID.into(),
        key_id: SERVICE_ACCOUNT_KEY_ID.into(),
        private_key_pem: SERVICE_ACCOUNT_KEY_PEM.into(),
    }
}

/// How big a domain to make.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GoogleDomainSpec {
    /// The primary domain.
    pub domain: String,
    /// Schools.
    pub schools: usize,
    /// Staff per school.
    pub staff_per_school: usize,
    /// Pupils per school (spread over the year groups; one per school directly in `Students`).
    pub students_per_school: usize,
    /// Year groups per school, from Year 7.
    pub year_groups: usize,
}

impl Default for GoogleDomainSpec {
    fn default() -> GoogleDomainSpec {
        GoogleDomainSpec {
            domain: "trust.example.org".into(),
            schools: 2,
            staff_per_school: 6,
            students_per_school: 20,
            year_groups: 3,
        }
    }
}

/// An organisational unit of the domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DomainOrgUnit {
    /// Its id (`id:…`).
    pub id: String,
    /// Its full path.
    pub path: String,
    /// Its description.
    pub description: String,
}

/// A user of the domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DomainUser {
    /// Google's stable user id (21 digits).
    pub id: String,
    /// Primary email.
    pub primary_email: String,
    /// First name.
    pub given_name: String,
    /// Last name.
    pub family_name: String,
    /// Suspended.
    pub suspended: bool,
    /// Archived.
    pub archived: bool,
    /// Organisational unit path.
    pub org_unit_path: String,
    /// Super administrator.
    pub is_admin: bool,
}

impl DomainUser {
    /// Active: neither suspended nor archived.
    pub fn is_active(&self) -> bool {
        !self.suspended && !self.archived
    }
}

/// A school of the domain and the Secure Schools organisation it syncs into.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DomainSchool {
    /// Name.
    pub name: String,
    /// The Secure Schools organisation id.
    pub organisation_id: String,
    /// The school's unit (`/Northfield Academy`).
    pub path: String,
    /// Its staff unit.
    pub staff_path: String,
    /// Its pupils' unit (parent of the year units).
    pub students_path: String,
    /// The year units.
    pub year_paths: Vec<String>,
}

/// A whole synthetic domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GoogleDomain {
    /// The spec it was made from.
    pub spec: GoogleDomainSpec,
    /// The customer id.
    pub customer_id: String,
    /// Organisational units (the top unit `/` is implicit).
    pub org_units: Vec<DomainOrgUnit>,
    /// Users.
    pub users: Vec<DomainUser>,
    /// Schools.
    pub schools: Vec<DomainSchool>,
    /// The admin the service account acts as.
    pub admin_email: String,
}

const SCHOOL_NAMES: &[&str] =
    &["Northfield Academy", "St Aidan's Primary", "Riverside High", "Oakwood School", "Hillcrest College"];
const GIVEN: &[&str] =
    &["Ada", "Ben", "Chloë", "Dev", "Ella", "Femi", "Grace", "Hamza", "Isla", "Jack", "Kofi", "Lena", "Max", "Nia"];
const FAMILY: &[&str] =
    &["Okafor", "O'Brien", "Smith", "Nowak", "Patel", "Jones", "Brown", "Ahmed", "Søren", "Taylor", "Wilson", "Evans"];

fn slug(text: &str) -> String {
    text.chars().filter(|c| c.is_ascii_alphanumeric()).collect::<String>().to_lowercase()
}

impl GoogleDomainSpec {
    /// Makes the domain.
    pub fn generate(&self) -> GoogleDomain {
        let mut org_units = Vec::new();
        let mut users = Vec::new();
        let mut schools = Vec::new();
        let mut next_user = 0u64;
        let mut next_unit = 0u64;
        let mut unit = |path: String, description: String, units: &mut Vec<DomainOrgUnit>| {
            next_unit += 1;
            units.push(DomainOrgUnit { id: format!("id:03ph8a2z{next_unit:06x}"), path, description });
        };
        let mut user = |given: &str, family: &str, path: &str, users: &mut Vec<DomainUser>| -> usize {
            next_user += 1;
            let n = next_user;
            users.push(DomainUser {
                id: format!("1{:020}", 4_242_000_000u64 + n),
                primary_email: format!("{}.{}{n}@{}", slug(given), slug(family), self.domain),
                given_name: given.into(),
                family_name: family.into(),
                suspended: false,
                archived: false,
                org_unit_path: path.into(),
                is_admin: false,
            });
            users.len() - 1
        };
        unit("/IT".into(), "IT team".into(), &mut org_units);
        unit("/Governors".into(), "Governors of the trust".into(), &mut org_units);
        let admin = user("Iris", "Admin", "/IT", &mut users);
        users[admin].is_admin = true;
        users[admin].primary_email = format!("it.admin@{}", self.domain);
        let admin_email = users[admin].primary_email.clone();
        user("Gail", "Governor", "/Governors", &mut users);
        for s in 0..self.schools {
            let name = SCHOOL_NAMES.get(s).map(|n| (*n).to_owned()).unwrap_or_else(|| format!("School {}", s + 1));
            let path = format!("/{name}");
            let staff_path = format!("{path}/Staff");
            let students_path = format!("{path}/Students");
            let year_paths: Vec<String> =
                (0..self.year_groups.max(1)).map(|y| format!("{students_path}/Year {}", 7 + y)).collect();
            unit(path.clone(), name.clone(), &mut org_units);
            unit(staff_path.clone(), format!("{name} staff"), &mut org_units);
            unit(students_path.clone(), format!("{name} pupils"), &mut org_units);
            for y in &year_paths {
                unit(y.clone(), String::new(), &mut org_units);
            }
            for i in 0..self.staff_per_school {
                let k =
                    user(GIVEN[(s * 7 + i) % GIVEN.len()], FAMILY[(s * 3 + i) % FAMILY.len()], &staff_path, &mut users);
                if i == 1 {
                    users[k].suspended = true;
                }
            }
            for i in 0..self.students_per_school {
                let at = if i == 0 { students_path.clone() } else { year_paths[i % year_paths.len()].clone() };
                let k = user(GIVEN[(s * 5 + i * 3) % GIVEN.len()], FAMILY[(s + i * 7) % FAMILY.len()], &at, &mut users);
                if i == 2 {
                    users[k].suspended = true;
                }
                if i == 3 {
                    users[k].archived = true;
                }
            }
            schools.push(DomainSchool {
                name: name.clone(),
                organisation_id: format!("org-{}", slug(&name)),
                path,
                staff_path,
                students_path,
                year_paths,
            });
        }
        GoogleDomain { spec: self.clone(), customer_id: "C03az79cb".into(), org_units, users, schools, admin_email }
    }
}

impl GoogleDomain {
    /// The users of a unit and every unit under it (what a sync of that unit reads).
    pub fn users_under(&self, path: &str) -> Vec<&DomainUser> {
        self.users.iter().filter(|u| super::within(&u.org_unit_path, path)).collect()
    }

    /// A school by organisation id.
    pub fn school(&self, organisation_id: &str) -> Option<&DomainSchool> {
        self.schools.iter().find(|s| s.organisation_id == organisation_id)
    }
}

/// A fake loaded with the default domain, the sample service account registered and delegated the sync's scopes.
pub fn fake() -> (FakeGoogle, GoogleDomain) {
    let domain = GoogleDomainSpec::default().generate();
    let fake = FakeGoogle::from_domain(&domain);
    fake.register_service_account(service_account());
    fake.authorise_delegation(SERVICE_ACCOUNT_CLIENT_ID, SCOPES);
    (fake, domain)
}
