//! Batching of the table work of users and enrollments.
//!
//! A lookup in a table of millions of entries is a trip to main memory, often with a page-table walk on top (the
//! tables span far more pages than the TLB covers). Done one record at a time, each trip waits for the last. So the table work of users and enrollments waits until [`BATCH`] records are queued; then the slots they
//! need are all touched first, so that the CPU has the fetches in flight together, and only then looked at. The
//! record-local checks run at once. A batch is also flushed before any record of another kind is checked, and by
//! [`Validator::finish`], so that the report does not depend on it.

use super::Validator;
use crate::entity::{EntityKind, GuidRef};
use crate::validate::checks::{
    Check, Deferred, Site, Target, check_enrollment_class, check_enrollment_user, enrollment_class_ready,
    enrollment_user_ready,
};
use crate::validate::keys::Fp;

/// How many enrollments are looked up together (see [`Validator::flush_enrollments`]).
pub(super) const BATCH: usize = 64;

/// The references of an enrollment, in the order of [`PendingEnrollment::refs`].
pub(super) const ENROLLMENT_REFS: [(&str, Target); 3] =
    [("user", Target::User), ("class", Target::Class), ("school", Target::Org)];

/// An enrollment waiting for its table lookups, with what they need; its strings are reused from batch to batch.
#[derive(Debug, Default)]
pub(super) struct PendingEnrollment {
    pub(super) sourced_id: String,
    pub(super) active: bool,
    /// Fingerprint of the `sourcedId`, unless blank.
    pub(super) own: Option<Fp>,
    /// Fingerprints of the user, class and school references, unless blank.
    pub(super) refs: [Option<Fp>; 3],
    /// Their `sourcedId`s.
    pub(super) names: [String; 3],
}

/// A user waiting for its table lookups: defining its id, recording its orgs, its SDS match-field value.
#[derive(Debug, Default)]
pub(super) struct PendingUser {
    pub(super) sourced_id: String,
    pub(super) deleted: bool,
    /// Fingerprint of the `sourcedId`, unless blank.
    pub(super) own: Option<Fp>,
    /// Its orgs' ids, in order.
    pub(super) orgs: Vec<u32>,
    /// Its match-field value and the fingerprint of its lower-case form, if checked and present.
    pub(super) match_fp: Option<Fp>,
    pub(super) match_value: String,
}

impl Validator {
    /// Queues a user for its table work, which runs when the batch is full.
    pub(super) fn queue_user(&mut self, pending: PendingUser) {
        match self.user_batch.get_mut(self.user_batch_len) {
            Some(spare) => *spare = pending,
            None => self.user_batch.push(pending),
        }
        self.user_batch_len += 1;
        if self.user_batch_len >= BATCH {
            self.flush_users();
        }
    }

    /// A cleared buffer for the next pending user: the spare one at `user_batch_len`, if any.
    pub(super) fn pending_user(&mut self) -> PendingUser {
        let mut pending = self.user_batch.get_mut(self.user_batch_len).map(std::mem::take).unwrap_or_default();
        pending.sourced_id.clear();
        pending.orgs.clear();
        pending.match_fp = None;
        pending.match_value.clear();
        pending
    }

    /// Records the users waiting for it: touches the buckets of their ids and match-field values, then records them
    /// (see the module docs).
    pub(super) fn flush_users(&mut self) {
        if self.user_batch_len == 0 {
            return;
        }
        let live = std::mem::take(&mut self.user_batch_len);
        let batch = std::mem::take(&mut self.user_batch);
        let pending = batch.get(..live).unwrap_or(&[]);
        let mut touched = 0;
        for p in pending {
            if let Some(fp) = p.own {
                touched ^= self.tables.users.touch(fp);
            }
            if let Some(fp) = p.match_fp {
                touched ^= self.match_values.touch(fp);
            }
        }
        std::hint::black_box(touched);
        for p in pending {
            self.record_user(p);
        }
        self.user_batch = batch;
    }

    fn record_user(&mut self, pending: &PendingUser) {
        let Some((fp, me)) =
            pending.own.and_then(|fp| self.define_fp(Target::User, &pending.sourced_id, pending.deleted, fp))
        else {
            return;
        };
        let mut orgs = pending.orgs.iter().copied();
        if let Some(first) = orgs.next() {
            self.tables.users.set_aux(fp, first);
            for org in orgs.filter(|&org| org != first) {
                let more = self.tables.user_more_orgs.entry(me.id).or_default();
                if !more.contains(&org) {
                    more.push(org);
                }
            }
        }
        if let Some(fp) = pending.match_fp {
            let site = Site { entity: EntityKind::User, sourced_id: &pending.sourced_id, active: !pending.deleted };
            self.unique_match(site, me.id, fp, &pending.match_value);
        }
    }

    /// Does all pending table work.
    pub(super) fn flush(&mut self) {
        self.flush_users();
        self.flush_enrollments();
    }

    /// Queues an enrollment for its lookups, which run when the batch is full.
    pub(super) fn queue_enrollment(
        &mut self,
        site: Site<'_>,
        own: Option<Fp>,
        refs: [Option<Fp>; 3],
        references: [&GuidRef; 3],
    ) {
        if self.batch_len == self.batch.len() {
            self.batch.push(PendingEnrollment::default());
        }
        if let Some(pending) = self.batch.get_mut(self.batch_len) {
            pending.sourced_id.clear();
            pending.sourced_id.push_str(site.sourced_id);
            pending.active = site.active;
            pending.own = own;
            pending.refs = refs;
            for (name, reference) in pending.names.iter_mut().zip(references) {
                name.clear();
                name.push_str(&reference.sourced_id);
            }
            self.batch_len += 1;
        }
        if self.batch_len >= BATCH {
            self.flush_enrollments();
        }
    }

    /// Does the table lookups of the enrollments waiting for them: touches the buckets of their ids, users and
    /// classes, then looks them up (see the module docs).
    pub(super) fn flush_enrollments(&mut self) {
        if self.batch_len == 0 {
            return;
        }
        let live = std::mem::take(&mut self.batch_len);
        let batch = std::mem::take(&mut self.batch);
        let pending = batch.get(..live).unwrap_or(&[]);
        let mut touched = 0;
        for p in pending {
            if let Some(fp) = p.own {
                touched ^= self.enrollments.touch(fp);
            }
            let [user, class, _] = p.refs;
            for (fp, table) in [(user, &self.tables.users), (class, &self.tables.classes)] {
                if let Some(fp) = fp {
                    touched ^= table.touch(fp);
                }
            }
        }
        std::hint::black_box(touched);
        for p in pending {
            self.enrollment_lookups(p);
        }
        self.batch = batch;
    }

    fn enrollment_lookups(&mut self, pending: &PendingEnrollment) {
        let site = Site { entity: EntityKind::Enrollment, sourced_id: &pending.sourced_id, active: pending.active };
        if let Some(fp) = pending.own
            && !self.enrollments.insert(fp, fp)
        {
            self.duplicate(EntityKind::Enrollment, site.sourced_id);
        }
        let mut resolved = [None; 3];
        for (i, (out, &(field, target))) in resolved.iter_mut().zip(&ENROLLMENT_REFS).enumerate() {
            if let (Some(Some(fp)), Some(name)) = (pending.refs.get(i), pending.names.get(i)) {
                *out = self.resolve(site, field, *fp, name, target, Check::Exists);
            }
        }
        let [user, class, school] = resolved;
        let Some((school_fp, school)) = school else { return };
        if let Some((class_fp, class)) = class {
            if enrollment_class_ready(&self.tables, class, school) {
                check_enrollment_class(&self.tables, &mut self.sink, site.sourced_id, class, school);
            } else {
                self.deferred.push(Deferred::EnrollmentClass {
                    sourced_id: site.sourced_id.into(),
                    class: class_fp,
                    school: school_fp,
                });
            }
        }
        if let Some((user_fp, user)) = user {
            if enrollment_user_ready(user, school) {
                check_enrollment_user(&self.tables, &mut self.sink, site.sourced_id, user, school);
            } else {
                self.deferred.push(Deferred::EnrollmentUser {
                    sourced_id: site.sourced_id.into(),
                    user: user_fp,
                    school: school_fp,
                });
            }
        }
    }
}
