//! The streaming validator.

mod batch;

use super::checks::{Check, Deferred, Site, Tables, Target, check_enrollment_class, check_enrollment_user, check_ref};
use super::keys::{DEFINED, DELETED, Fingerprinter, Fp, FpMap, FpSet, Known, Pair, SCHOOL};
use super::report::{At, Severity, Sink};
use super::{DEFAULT_MAX_FINDINGS, Profile, Report, Rule, SdsOptions, chars, sds};
use crate::entity::{
    AcademicSession, Base, Class, Course, Demographics, Enrollment, EntityKind, GuidRef, Org, Status, User,
};
use crate::roster::Roster;
use crate::vocab::{ClassType, EnrollmentRole, Grade, OrgType, RoleType, SessionType, Sex};
use batch::{ENROLLMENT_REFS, PendingEnrollment, PendingUser};
use std::fmt;

/// Validates a roster fed one record at a time; see the [module docs](super).
///
/// ```
/// use oneroster_model::validate::{Profile, Rule, Validator};
/// use oneroster_model::{Base, Enrollment, EnrollmentRole, GuidRef, GuidType};
///
/// let mut validator = Validator::new(Profile::Core);
/// // An enrollment whose user, class and school never arrive.
/// validator.enrollment(&Enrollment {
///     base: Base::new("e1"),
///     user: GuidRef::new(GuidType::User, "u1"),
///     class: GuidRef::new(GuidType::Class, "c1"),
///     school: GuidRef::new(GuidType::Org, "s1"),
///     role: EnrollmentRole::Student,
///     primary: None,
///     begin_date: None,
///     end_date: None,
/// });
/// let report = validator.finish();
/// let dangling: Vec<_> = report.findings.iter().filter(|f| f.rule == Rule::DanglingReference).collect();
/// assert_eq!(dangling.len(), 3);
/// assert_eq!(
///     dangling[0].to_string(),
///     "error[dangling-reference] enrollment 'e1' class: refers to class 'c1', which is not in the roster"
/// );
/// ```
pub struct Validator {
    sds: Option<SdsOptions>,
    fps: Fingerprinter,
    tables: Tables,
    enrollments: FpSet,
    demographics: FpSet,
    /// Lower-cased SDS match-field values → the user that has it first.
    match_values: FpMap,
    /// Checks waiting for a record not seen yet.
    deferred: Vec<Deferred>,
    /// Enrollments whose table lookups wait for the rest of their batch; the first `batch_len` are live, the rest
    /// are buffers kept for reuse.
    batch: Vec<PendingEnrollment>,
    batch_len: usize,
    /// Users waiting for their table lookups, likewise.
    user_batch: Vec<PendingUser>,
    user_batch_len: usize,
    sink: Sink,
    scratch: String,
}

impl fmt::Debug for Validator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Validator")
            .field("sds", &self.sds)
            .field("deferred", &self.deferred.len())
            .finish_non_exhaustive()
    }
}

impl Default for Validator {
    fn default() -> Validator {
        Validator::new(Profile::Core)
    }
}

impl Validator {
    /// A validator for `profile` keeping up to [`DEFAULT_MAX_FINDINGS`] findings.
    pub fn new(profile: Profile) -> Validator {
        let sds = match profile {
            Profile::Core => None,
            Profile::Sds(options) => Some(options),
        };
        Validator {
            sds,
            fps: Fingerprinter::new(),
            tables: Tables::default(),
            enrollments: FpSet::default(),
            demographics: FpSet::default(),
            match_values: FpMap::default(),
            deferred: Vec::new(),
            batch: Vec::new(),
            batch_len: 0,
            user_batch: Vec::new(),
            user_batch_len: 0,
            sink: Sink::new(DEFAULT_MAX_FINDINGS),
            scratch: String::new(),
        }
    }

    /// Keeps at most `max` findings in the report (the first `max` in sort order); all are still counted.
    pub fn with_max_findings(mut self, max: usize) -> Validator {
        self.sink.set_max(max);
        self
    }

    /// The profile being checked.
    pub fn profile(&self) -> Profile {
        match &self.sds {
            None => Profile::Core,
            Some(options) => Profile::Sds(options.clone()),
        }
    }

    /// Feeds every record of `roster`, in dependency order.
    pub fn roster(&mut self, roster: &Roster) {
        roster.orgs.iter().for_each(|r| self.org(r));
        roster.academic_sessions.iter().for_each(|r| self.academic_session(r));
        roster.courses.iter().for_each(|r| self.course(r));
        roster.classes.iter().for_each(|r| self.class(r));
        roster.users.iter().for_each(|r| self.user(r));
        roster.enrollments.iter().for_each(|r| self.enrollment(r));
        roster.demographics.iter().for_each(|r| self.demographics(r));
    }

    /// Checks an org.
    pub fn org(&mut self, org: &Org) {
        self.flush();
        let site = Site::new(EntityKind::Org, &org.base);
        self.begin(site, &org.base);
        if let Some((fp, _)) = self.define(Target::Org, &org.base)
            && org.org_type == OrgType::School
        {
            self.tables.orgs.add_flags(fp, SCHOOL);
        }
        self.required(site, "name", &org.name);
        self.vocab(site, "type", org.org_type.is_allowed(), org.org_type.as_str(), OrgType::SPEC_VALUES);
        if let Some(parent) = &org.parent {
            self.reference(site, "parent", parent, Target::Org, Check::Exists);
        }
        if self.sds.is_some() {
            self.sds_required(site, "identifier", org.identifier.as_deref());
            if !matches!(org.org_type, OrgType::School | OrgType::District) {
                self.sink.report(
                    Severity::Warning,
                    site.at("type"),
                    Rule::SdsOrgType,
                    || format!("SDS syncs orgs of type school and district, not '{}'", org.org_type),
                    || None,
                );
            }
            self.display_name(site, "name", &org.name);
        }
    }

    /// Checks an academic session.
    pub fn academic_session(&mut self, session: &AcademicSession) {
        self.flush();
        let site = Site::new(EntityKind::AcademicSession, &session.base);
        self.begin(site, &session.base);
        self.define(Target::Session, &session.base);
        self.required(site, "title", &session.title);
        let year = session.school_year.as_str();
        if year.trim().is_empty() {
            self.required(site, "schoolYear", year);
        } else if year.len() != 4 || !year.bytes().all(|b| b.is_ascii_digit()) {
            self.sink.report(
                Severity::Error,
                site.at("schoolYear"),
                Rule::SchoolYearFormat,
                || format!("schoolYear '{year}' is not a four-digit year (2025 for 2024–25)"),
                || None,
            );
        }
        self.vocab(
            site,
            "type",
            session.session_type.is_allowed(),
            session.session_type.as_str(),
            SessionType::SPEC_VALUES,
        );
        if session.start_date > session.end_date {
            self.sink.report(
                Severity::Error,
                site.at("endDate"),
                Rule::DateOrder,
                || format!("endDate {} is before startDate {}", session.end_date, session.start_date),
                || None,
            );
        }
        if let Some(parent) = &session.parent {
            self.reference(site, "parent", parent, Target::Session, Check::Exists);
        }
    }

    /// Checks a course.
    pub fn course(&mut self, course: &Course) {
        self.flush();
        let site = Site::new(EntityKind::Course, &course.base);
        self.begin(site, &course.base);
        self.define(Target::Course, &course.base);
        self.required(site, "title", &course.title);
        if let Some(year) = &course.school_year {
            self.reference(site, "schoolYear", year, Target::Session, Check::Exists);
        }
        self.reference(site, "org", &course.org, Target::Org, Check::Exists);
        self.grades(site, &course.grades);
    }

    /// Checks a class.
    pub fn class(&mut self, class: &Class) {
        self.flush();
        let site = Site::new(EntityKind::Class, &class.base);
        self.begin(site, &class.base);
        let id = self.define(Target::Class, &class.base);
        self.required(site, "title", &class.title);
        self.vocab(site, "classType", class.class_type.is_allowed(), class.class_type.as_str(), ClassType::SPEC_VALUES);
        self.reference(site, "course", &class.course, Target::Course, Check::Exists);
        let school = self.reference(site, "school", &class.school, Target::Org, Check::School);
        if let (Some((fp, _)), Some((_, school))) = (id, school) {
            self.tables.classes.set_aux(fp, school.id);
        }
        if class.terms.is_empty() {
            self.missing(site, "terms", "a class needs at least one term");
        }
        for term in &class.terms {
            self.reference(site, "terms", term, Target::Session, Check::Exists);
        }
        self.grades(site, &class.grades);
        if self.sds.is_some() {
            self.mail_nickname(site, "sourcedId", &class.base.sourced_id, Severity::Error);
            self.mail_nickname(site, "title", &class.title, Severity::Warning);
            self.display_name(site, "title", &class.title);
        }
    }

    /// Checks a user. Recording it in the tables (and so the checks that need that) happens a batch of users at a
    /// time, as for enrollments.
    pub fn user(&mut self, user: &User) {
        self.flush_enrollments();
        let site = Site::new(EntityKind::User, &user.base);
        self.begin(site, &user.base);
        self.required(site, "username", &user.username);
        self.required(site, "givenName", &user.given_name);
        self.required(site, "familyName", &user.family_name);
        self.vocab(site, "role", user.role.is_allowed(), user.role.as_str(), RoleType::SPEC_VALUES);
        if user.orgs.is_empty() {
            self.missing(site, "orgs", "a user needs at least one org");
        }
        let mut pending = self.pending_user();
        for org in &user.orgs {
            if let Some((_, org)) = self.reference(site, "orgs", org, Target::Org, Check::Exists) {
                pending.orgs.push(org.id);
            }
        }
        for agent in &user.agents {
            self.reference(site, "agents", agent, Target::User, Check::Exists);
        }
        self.grades(site, &user.grades);
        if self.sds.is_some() {
            self.sds_user(site, user);
            if let Some((value, fp)) = self.match_key(site, user) {
                pending.match_fp = Some(fp);
                pending.match_value.push_str(value);
            }
        }
        pending.sourced_id.push_str(site.sourced_id);
        pending.deleted = !site.active;
        pending.own = self.fingerprint(site.sourced_id);
        self.queue_user(pending);
    }

    /// Checks an enrollment. The checks that need other records run a batch of enrollments at a time.
    pub fn enrollment(&mut self, enrollment: &Enrollment) {
        self.flush_users();
        let site = Site::new(EntityKind::Enrollment, &enrollment.base);
        self.begin(site, &enrollment.base);
        self.vocab(site, "role", enrollment.role.is_allowed(), enrollment.role.as_str(), EnrollmentRole::SPEC_VALUES);
        if let (Some(begin), Some(end)) = (enrollment.begin_date, enrollment.end_date)
            && begin > end
        {
            self.sink.report(
                Severity::Error,
                site.at("endDate"),
                Rule::DateOrder,
                || format!("endDate {end} is before beginDate {begin}"),
                || None,
            );
        }
        let references = [&enrollment.user, &enrollment.class, &enrollment.school];
        let mut refs = [None; 3];
        for ((fp, &(field, target)), reference) in refs.iter_mut().zip(&ENROLLMENT_REFS).zip(references) {
            self.reference_type(site, field, reference, target);
            *fp = self.fingerprint(&reference.sourced_id);
            if fp.is_none() {
                self.missing(site, field, "reference without a sourcedId");
            }
        }
        let own = self.fingerprint(site.sourced_id);
        self.queue_enrollment(site, own, refs, references);
    }

    /// Checks the demographics of a user.
    pub fn demographics(&mut self, demographics: &Demographics) {
        self.flush();
        let site = Site::new(EntityKind::Demographics, &demographics.base);
        self.begin(site, &demographics.base);
        if let Some(fp) = self.fingerprint(site.sourced_id)
            && !self.demographics.insert(fp, fp)
        {
            self.duplicate(EntityKind::Demographics, site.sourced_id);
        }
        if !site.sourced_id.trim().is_empty() {
            self.reference_id(site, "sourcedId", site.sourced_id, Target::User, Check::Exists);
        }
        if let Some(sex) = &demographics.sex {
            self.vocab(site, "sex", sex.is_allowed(), sex.as_str(), Sex::SPEC_VALUES);
        }
    }

    /// Resolves the checks that waited for records fed later, and returns the report.
    pub fn finish(mut self) -> Report {
        self.flush();
        for deferred in std::mem::take(&mut self.deferred) {
            match deferred {
                Deferred::Ref { entity, sourced_id, active, field, target, fp, check } => {
                    if let Some(known) = self.tables.table(target).lookup(fp) {
                        let site = Site { entity, sourced_id: &sourced_id, active };
                        check_ref(&self.tables, &mut self.sink, site, field, target, known, check);
                    }
                }
                Deferred::EnrollmentClass { sourced_id, class, school } => {
                    if let (Some(class), Some(school)) =
                        (self.tables.classes.lookup(class), self.tables.orgs.lookup(school))
                    {
                        check_enrollment_class(&self.tables, &mut self.sink, &sourced_id, class, school);
                    }
                }
                Deferred::EnrollmentUser { sourced_id, user, school } => {
                    if let (Some(user), Some(school)) =
                        (self.tables.users.lookup(user), self.tables.orgs.lookup(school))
                    {
                        check_enrollment_user(&self.tables, &mut self.sink, &sourced_id, user, school);
                    }
                }
            }
        }
        self.sink.finish()
    }

    /// Counts the record and checks the common fields.
    fn begin(&mut self, site: Site<'_>, base: &Base) {
        self.sink.record(site.entity);
        if site.sourced_id.trim().is_empty() {
            self.missing(site, "sourcedId", "sourcedId is missing");
        }
        if base.date_last_modified.is_none() {
            if self.sds.is_some() {
                self.sink.report(
                    Severity::Error,
                    site.at("dateLastModified"),
                    Rule::SdsMissingDateLastModified,
                    || "dateLastModified is missing; SDS delta sync selects changed records by it".to_owned(),
                    || None,
                );
            } else {
                self.sink.report(
                    Severity::Warning,
                    site.at("dateLastModified"),
                    Rule::MissingDateLastModified,
                    || "dateLastModified is missing; the REST binding requires it".to_owned(),
                    || None,
                );
            }
        }
    }

    /// Records a record of a referable kind; `None` if it has no `sourcedId` or is a duplicate (the first record
    /// with a `sourcedId` is the one others are checked against).
    fn define(&mut self, target: Target, base: &Base) -> Option<(Fp, Known)> {
        let fp = self.fingerprint(&base.sourced_id)?;
        self.define_fp(target, &base.sourced_id, base.status == Status::ToBeDeleted, fp)
    }

    /// [`define`](Validator::define) with the fingerprint of the `sourcedId` (not blank) already computed.
    pub(super) fn define_fp(&mut self, target: Target, sourced_id: &str, deleted: bool, fp: Fp) -> Option<(Fp, Known)> {
        let table = self.tables.table_mut(target);
        let mut known = table.intern(fp, sourced_id)?;
        if known.is_defined() {
            self.duplicate(target.kind(), sourced_id);
            return None;
        }
        known.flags |= if deleted { DEFINED | DELETED } else { DEFINED };
        table.add_flags(fp, known.flags);
        Some((fp, known))
    }

    /// The fingerprint of a `sourcedId`, unless it is blank.
    pub(super) fn fingerprint(&self, sourced_id: &str) -> Option<Fp> {
        (!sourced_id.trim().is_empty()).then(|| self.fps.of(sourced_id))
    }

    pub(super) fn duplicate(&mut self, entity: EntityKind, sourced_id: &str) {
        self.sink.report(
            Severity::Error,
            At { entity, sourced_id, field: Some("sourcedId") },
            Rule::DuplicateSourcedId,
            || format!("another {entity} has sourcedId '{sourced_id}'"),
            || None,
        );
    }

    fn missing(&mut self, site: Site<'_>, field: &'static str, message: &str) {
        self.sink.report(Severity::Error, site.at(field), Rule::Required, || message.to_owned(), || None);
    }

    fn required(&mut self, site: Site<'_>, field: &'static str, value: &str) {
        if value.trim().is_empty() {
            self.sink.report(
                Severity::Error,
                site.at(field),
                Rule::Required,
                || format!("{field} is missing"),
                || None,
            );
        }
    }

    fn vocab(&mut self, site: Site<'_>, field: &'static str, allowed: bool, value: &str, spec: &[&str]) {
        if !allowed {
            self.sink.report(
                Severity::Warning,
                site.at(field),
                Rule::UnknownVocabulary,
                || {
                    format!(
                        "'{value}' is not a OneRoster 1.1 {field} value; allowed: {}, or an ext: extension",
                        spec.join(", ")
                    )
                },
                || None,
            );
        }
    }

    fn grades(&mut self, site: Site<'_>, grades: &[Grade]) {
        for grade in grades {
            if self.sds.is_some() {
                if !grade.is_spec_value() {
                    self.sink.report(
                        Severity::Error,
                        site.at("grades"),
                        Rule::SdsGradeCode,
                        || {
                            format!(
                                "grade '{grade}' is not a CEDS grade-level code; SDS answers \
                                 InvalidOrMissingReferenceCode (allowed: {})",
                                Grade::SPEC_VALUES.join(", ")
                            )
                        },
                        || sds::grade_suggestion(grade),
                    );
                }
            } else {
                self.vocab(site, "grades", grade.is_allowed(), grade.as_str(), Grade::SPEC_VALUES);
            }
        }
    }

    /// Checks a reference's `type`, then its target.
    fn reference(
        &mut self,
        site: Site<'_>,
        field: &'static str,
        reference: &GuidRef,
        target: Target,
        check: Check,
    ) -> Option<(Fp, Known)> {
        self.reference_type(site, field, reference, target);
        self.reference_id(site, field, &reference.sourced_id, target, check)
    }

    fn reference_type(&mut self, site: Site<'_>, field: &'static str, reference: &GuidRef, target: Target) {
        if !target.accepts(&reference.kind) {
            self.sink.report(
                Severity::Warning,
                site.at(field),
                Rule::ReferenceTypeMismatch,
                || {
                    format!(
                        "reference to '{}' has type '{}'; {field} must be of type {}",
                        reference.sourced_id,
                        reference.kind,
                        target.expected_types()
                    )
                },
                || None,
            );
        }
    }

    /// Checks the target of a reference now if it has been seen, else later; returns what is known of it.
    fn reference_id(
        &mut self,
        site: Site<'_>,
        field: &'static str,
        sourced_id: &str,
        target: Target,
        check: Check,
    ) -> Option<(Fp, Known)> {
        let Some(fp) = self.fingerprint(sourced_id) else {
            self.missing(site, field, "reference without a sourcedId");
            return None;
        };
        self.resolve(site, field, fp, sourced_id, target, check)
    }

    /// [`reference_id`](Validator::reference_id) with the fingerprint of the (not blank) `sourcedId` computed.
    pub(super) fn resolve(
        &mut self,
        site: Site<'_>,
        field: &'static str,
        fp: Fp,
        sourced_id: &str,
        target: Target,
        check: Check,
    ) -> Option<(Fp, Known)> {
        let known = self.tables.table_mut(target).intern(fp, sourced_id)?;
        if known.is_defined() {
            check_ref(&self.tables, &mut self.sink, site, field, target, known, check);
        } else {
            self.deferred.push(Deferred::Ref {
                entity: site.entity,
                sourced_id: site.sourced_id.into(),
                active: site.active,
                field,
                target,
                fp,
                check,
            });
        }
        Some((fp, known))
    }

    fn sds_required(&mut self, site: Site<'_>, field: &'static str, value: Option<&str>) {
        if value.is_none_or(|v| v.trim().is_empty()) {
            self.sink.report(
                Severity::Error,
                site.at(field),
                Rule::SdsRequired,
                || format!("SDS needs {field}, the SIS id it shows and matches records on"),
                || None,
            );
        }
    }

    fn sds_user(&mut self, site: Site<'_>, user: &User) {
        self.sds_required(site, "identifier", user.identifier.as_deref());
        if let Some(email) = user.email.as_deref()
            && !email.trim().is_empty()
            && !sds::is_plausible_email(email)
        {
            self.sink.report(
                Severity::Error,
                site.at("email"),
                Rule::SdsInvalidEmail,
                || format!("email '{email}' is not a plausible address"),
                || Some(email.trim()).filter(|t| sds::is_plausible_email(t)).map(str::to_owned),
            );
        }
        let username = user.username.as_str();
        if !username.is_empty() && !chars::is_valid_username(username) {
            self.sink.report(
                Severity::Error,
                site.at("username"),
                Rule::SdsUsernameCharacters,
                || {
                    format!(
                        "username '{username}' has characters Microsoft Entra does not allow in a userPrincipalName \
                         (A-Z a-z 0-9 ' . - _ ! # ^ ~ and one @)"
                    )
                },
                || Some(chars::clean_username(username)),
            );
        }
        self.display_name(site, "givenName", &user.given_name);
        self.display_name(site, "familyName", &user.family_name);
    }

    /// The SDS match-field value of an active user, and the fingerprint of its lower-case form; reports it missing.
    fn match_key<'u>(&mut self, site: Site<'_>, user: &'u User) -> Option<(&'u str, Fp)> {
        let options = self.sds.as_ref().filter(|_| site.active)?;
        let field = &options.match_field;
        let Some(value) = sds::match_value(field, user) else {
            self.sink.report(
                Severity::Error,
                site.at(field.field_name()),
                Rule::SdsMissingMatchField,
                || format!("no {field} to match the user to a Microsoft Entra account on"),
                || None,
            );
            return None;
        };
        self.scratch.clear();
        if value.is_ascii() {
            self.scratch.push_str(value);
            self.scratch.make_ascii_lowercase();
        } else {
            self.scratch.extend(value.chars().flat_map(char::to_lowercase));
        }
        Some((value, self.fps.of(&self.scratch)))
    }

    /// Records the match-field value of user `id`, or reports it as another's.
    pub(super) fn unique_match(&mut self, site: Site<'_>, id: u32, fp: Fp, value: &str) {
        let Some(options) = &self.sds else { return };
        let field = &options.match_field;
        let (first, new) = self.match_values.get_or_insert_with(fp, || Pair::new(fp, id));
        if !new {
            let other = self.tables.users.name(first.value());
            self.sink.report(
                Severity::Error,
                site.at(field.field_name()),
                Rule::SdsDuplicateMatchField,
                || {
                    format!(
                        "{field} '{value}' is also the {field} of user '{other}' (ignoring letter case); SDS cannot \
                         tell them apart"
                    )
                },
                || None,
            );
        }
    }

    fn mail_nickname(&mut self, site: Site<'_>, field: &'static str, value: &str, severity: Severity) {
        if !value.is_empty() && !chars::is_valid_mail_nickname(value) {
            self.sink.report(
                severity,
                site.at(field),
                Rule::SdsMailNickname,
                || {
                    format!(
                        "{field} '{value}' feeds the section group's mailNickname, which must be ASCII without \
                         spaces or any of @ ( ) \\ [ ] \" ; : < > ,"
                    )
                },
                || Some(chars::clean_mail_nickname(value)),
            );
        }
    }

    fn display_name(&mut self, site: Site<'_>, field: &'static str, value: &str) {
        if !chars::is_valid_display_name(value) {
            self.sink.report(
                Severity::Error,
                site.at(field),
                Rule::SdsDisplayNameCharacters,
                || format!("{field} {value:?} has control characters or < >, which SDS rejects in a display name"),
                || Some(chars::clean_display_name(value)),
            );
        }
    }
}
