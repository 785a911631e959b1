//! The retention rules of the office's profession, applied to its shared
//! folders.
//!
//! Each filed folder below `/office/` holds one class of document (the law
//! office's `Akten` its hand files, every office's `Buchhaltung` its books
//! and vouchers; see [`Preset::filing`](crate::presets::Preset::filing)).
//! Every file in it gets a retention hold until the first day the law lets
//! it go, counted from the day (in the office's time zone) it was last
//! written: until then the trash does not purge it, nor a folder it was
//! deleted with, and its versions are not thinned. A hold is never
//! shortened, and a hold without an end (a legal hold someone set) is left
//! alone and stops deletion.
//!
//! Where the law also sets a maximum (a driving school's training
//! records), a file whose time is over goes to the trash, whose own expiry
//! then deletes it for good.
//!
//! Holds are set as files arrive (from the storage events), and every
//! maintenance pass walks the filed folders again, so a file moved in
//! while a hold could not be set, or written while the server was down,
//! is covered too.

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use guss_core::{Clock, Event, Principal, TenantId};
use guss_dav::DavPath;
use guss_policy::retention::{DocumentClass, RetentionRule, assess, preset};
use guss_storage::model::{Entry, EntryKind};
use guss_storage::store::{FileStore, TenantFiles};

use crate::office::{OFFICE_ZONE, Offices};

/// Most files one pass looks at in one organisation.
const WALKED: usize = 20_000;
/// Most files one pass moves to the trash in one organisation: far below
/// the ransomware tripwire's count of deletes.
const DELETED: usize = 100;

/// What one pass over an organisation did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Sweep {
    /// Files that got a hold or a longer one.
    pub held: usize,
    /// Files moved to the trash because their maximum period was over.
    pub deleted: usize,
}

/// What the rules say about one file.
enum Outcome {
    Unchanged,
    Held,
    Deleted,
}

/// Applies the retention rules of each organisation's profession.
#[derive(Clone)]
pub struct Retention {
    files: FileStore,
    offices: Offices,
}

impl Retention {
    /// Applies rules to the files of `files`, reading each organisation's
    /// profession from `offices`.
    pub fn new(files: FileStore, offices: Offices) -> Self {
        Retention { files, offices }
    }

    /// Holds a file written, moved or copied into a filed folder. Failures
    /// are logged (the next maintenance pass tries again): the write has
    /// happened either way.
    pub async fn react(&self, event: &Event) {
        let data = event.data();
        let path = match event.kind().as_str() {
            "guss.storage.file.created" | "guss.storage.file.updated" => event.subject(),
            "guss.storage.moved" | "guss.storage.copied" => {
                data.and_then(|d| d.get("to")).and_then(|v| v.as_str())
            }
            _ => return,
        };
        let Some(path) = path.and_then(parse_path) else {
            return;
        };
        let today = day_of(event.time());
        if let Err(e) = self.apply_below(event.tenant(), &path, today).await {
            tracing::warn!(tenant = %event.tenant(), path = %path, error = format!("{e:#}"), "retention");
        }
    }

    /// Walks every filed folder of `tenant` on `today`: holds what lacks a
    /// hold and moves to the trash what must go.
    pub async fn sweep(&self, tenant: TenantId, today: NaiveDate) -> anyhow::Result<Sweep> {
        let Some(filing) = self.filing(tenant).await? else {
            return Ok(Sweep::default());
        };
        let files = self.files.tenant(tenant);
        let mut sweep = Sweep::default();
        for (folder, rule) in &filing.folders {
            let path = DavPath::from_segments(["office", folder])?;
            walk(&files, &path, &filing.rules, rule, today, &mut sweep).await?;
        }
        Ok(sweep)
    }

    /// Applies the rules to `path` (and everything below it) if it lies in
    /// a filed folder.
    async fn apply_below(
        &self,
        tenant: TenantId,
        path: &DavPath,
        today: NaiveDate,
    ) -> anyhow::Result<()> {
        let Some(filing) = self.filing(tenant).await? else {
            return Ok(());
        };
        let Some(rule) = filing.rule_for(path) else {
            return Ok(());
        };
        let files = self.files.tenant(tenant);
        let Some(entry) = files.stat(path).await? else {
            return Ok(());
        };
        match entry.kind {
            EntryKind::File => {
                apply(&files, &entry, &filing.rules, rule, today).await?;
            }
            EntryKind::Folder => {
                let mut sweep = Sweep::default();
                walk(&files, path, &filing.rules, rule, today, &mut sweep).await?;
            }
        }
        Ok(())
    }

    /// The rules and filed folders of `tenant`'s profession, once it has
    /// chosen one.
    async fn filing(&self, tenant: TenantId) -> anyhow::Result<Option<Filing>> {
        let Some(profession) = self.offices.settings(tenant).await?.profession else {
            return Ok(None);
        };
        let preset_of = profession.preset();
        let rules = preset(preset_of.retention);
        let folders = preset_of
            .filing
            .iter()
            .filter_map(|(folder, class)| {
                let rule = rules.iter().find(|r| r.class == *class)?;
                Some((*folder, *rule))
            })
            .collect();
        Ok(Some(Filing { rules, folders }))
    }
}

/// One profession's rules and the folders they apply to.
struct Filing {
    rules: Vec<RetentionRule>,
    folders: Vec<(&'static str, RetentionRule)>,
}

impl Filing {
    /// The rule for a path below one of the filed folders.
    fn rule_for(&self, path: &DavPath) -> Option<&RetentionRule> {
        match path.segments() {
            [office, folder, _, ..] if office == "office" => self
                .folders
                .iter()
                .find(|(filed, _)| filed == folder)
                .map(|(_, rule)| rule),
            _ => None,
        }
    }
}

/// Applies `rule` to every file below `folder`, depth first, within the
/// pass's bounds.
async fn walk(
    files: &TenantFiles,
    folder: &DavPath,
    rules: &[RetentionRule],
    rule: &RetentionRule,
    today: NaiveDate,
    sweep: &mut Sweep,
) -> anyhow::Result<()> {
    let mut pending = vec![folder.clone()];
    let mut walked = 0;
    while let Some(folder) = pending.pop() {
        let entries = match files.list(&folder).await {
            Ok(entries) => entries,
            Err(guss_storage::Error::NotFound(_)) => continue,
            Err(e) => return Err(e.into()),
        };
        for entry in entries {
            walked += 1;
            if walked > WALKED {
                tracing::warn!(folder = %folder, "retention: too many files for one pass");
                return Ok(());
            }
            if entry.kind == EntryKind::Folder {
                pending.push(entry.path);
                continue;
            }
            match apply(files, &entry, rules, rule, today).await? {
                Outcome::Unchanged => {}
                Outcome::Held => sweep.held += 1,
                Outcome::Deleted => {
                    sweep.deleted += 1;
                    if sweep.deleted >= DELETED {
                        return Ok(());
                    }
                }
            }
        }
    }
    Ok(())
}

/// Applies `rule` to one file.
async fn apply(
    files: &TenantFiles,
    entry: &Entry,
    rules: &[RetentionRule],
    rule: &RetentionRule,
    today: NaiveDate,
) -> anyhow::Result<Outcome> {
    let current = files.hold(&entry.path).await?;
    let legal_hold = current.as_ref().is_some_and(|h| h.until.is_none());
    let verdict = assess(rules, rule.class, day_of(entry.modified), legal_hold);
    if verdict.must_delete_by.is_some_and(|day| day <= today) {
        let by = Principal::Service {
            tenant: files.tenant_id(),
            service: crate::SERVICE.clone(),
        };
        files.delete(&entry.path, &by).await?;
        tracing::info!(path = %entry.path, statute = rule.statute, "retention: deleted after its period");
        return Ok(Outcome::Deleted);
    }
    let Some(until) = verdict.may_delete_from.map(start_of) else {
        return Ok(Outcome::Unchanged);
    };
    let longer = current.is_none_or(|h| h.until.is_some_and(|held| held < until));
    if !longer {
        return Ok(Outcome::Unchanged);
    }
    files
        .set_hold(&entry.path, &reason(rule), Some(until))
        .await?;
    Ok(Outcome::Held)
}

/// What the hold says, for people reading it later.
fn reason(rule: &RetentionRule) -> String {
    let class = match rule.class {
        DocumentClass::BooksAndAccounts => "Bücher und Buchungsbelege",
        DocumentClass::BookingVouchers => "Buchungsbelege",
        DocumentClass::BusinessLetters => "Geschäftsbriefe",
        DocumentClass::PatientRecords => "Patientenakte",
        DocumentClass::HandFiles => "Handakte",
        DocumentClass::TrainingRecords => "Ausbildungsnachweis",
        _ => "Aufbewahrungspflicht",
    };
    format!("{class}: {} Jahre ({})", rule.years, rule.statute)
}

/// The office's calendar day now.
pub fn today(clock: &dyn Clock) -> NaiveDate {
    day_of(clock.now())
}

/// The office's calendar day at `at`.
fn day_of(at: DateTime<Utc>) -> NaiveDate {
    at.with_timezone(&OFFICE_ZONE).date_naive()
}

/// The first moment of `day` in the office's time zone.
fn start_of(day: NaiveDate) -> DateTime<Utc> {
    day.and_time(NaiveTime::MIN)
        .and_local_timezone(OFFICE_ZONE)
        .earliest()
        .map_or_else(|| day.and_time(NaiveTime::MIN).and_utc(), |t| t.to_utc())
}

/// The path an event names.
fn parse_path(text: &str) -> Option<DavPath> {
    DavPath::from_segments(text.split('/').filter(|s| !s.is_empty())).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_are_the_offices() {
        // 00:30 on 1 January in Berlin is still 31 December in UTC: the
        // file was written in the new year, and its period counts so.
        let at = "2026-12-31T23:30:00Z".parse::<DateTime<Utc>>().unwrap();
        assert_eq!(day_of(at), NaiveDate::from_ymd_opt(2027, 1, 1).unwrap());
        let day = NaiveDate::from_ymd_opt(2033, 1, 1).unwrap();
        assert_eq!(start_of(day).to_rfc3339(), "2032-12-31T23:00:00+00:00");
    }

    #[test]
    fn only_what_lies_in_a_filed_folder_is_filed() {
        let rules = preset(guss_policy::retention::Profession::LawOffice);
        let hand_files = *rules
            .iter()
            .find(|r| r.class == DocumentClass::HandFiles)
            .unwrap();
        let filing = Filing {
            rules: rules.clone(),
            folders: vec![("Akten", hand_files)],
        };
        let rule = |p: &str| filing.rule_for(&parse_path(p).unwrap()).map(|r| r.class);
        assert_eq!(
            rule("/office/Akten/Weber/Klage.pdf"),
            Some(DocumentClass::HandFiles)
        );
        assert_eq!(
            rule("/office/Akten/Klage.pdf"),
            Some(DocumentClass::HandFiles)
        );
        assert_eq!(rule("/office/Akten"), None, "the folder itself");
        assert_eq!(rule("/office/Vorlagen/Brief.odt"), None);
        assert_eq!(rule("/people/anna@example.org/Akten/x"), None);
        assert!(reason(&hand_files).contains("§50 Abs. 1 BRAO"));
    }
}
