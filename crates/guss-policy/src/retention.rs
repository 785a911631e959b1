//! Retention rules as code: how long each class of document must be kept,
//! from when, and where a law says it must then go.
//!
//! The presets carry German law as the first jurisdiction. Periods follow
//! BGB §§187, 188: a period that starts "at the end of the calendar year"
//! runs from 31 December; a period of years ends on the same calendar date
//! years later, and the item may be deleted the day after.

use chrono::{Datelike as _, Months, NaiveDate};
use serde::{Deserialize, Serialize};

/// A kind of organisation, with its retention preset.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Profession {
    /// Any business: books, vouchers, letters.
    GeneralBusiness,
    /// A law office: adds lawyers' hand files.
    LawOffice,
    /// A medical or therapy practice: adds patient records.
    MedicalPractice,
    /// A driving school: adds training records, which must then be deleted.
    DrivingSchool,
}

/// A class of document with its own retention rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum DocumentClass {
    /// Books, inventories, annual accounts.
    BooksAndAccounts,
    /// Booking vouchers, including invoices.
    BookingVouchers,
    /// Business letters received and sent.
    BusinessLetters,
    /// Patient records.
    PatientRecords,
    /// A lawyer's hand files of a mandate.
    HandFiles,
    /// Driving-school training records of a student.
    TrainingRecords,
}

/// When a period starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PeriodStart {
    /// At the end of the calendar year of the item's date.
    EndOfCalendarYear,
    /// On the item's date itself (the end of a treatment, of a mandate).
    EventDate,
}

/// One rule: keep `class` for `years` from `start`; with `delete_after`,
/// the item must be deleted once the period is over.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct RetentionRule {
    /// Which documents.
    pub class: DocumentClass,
    /// How many years.
    pub years: u32,
    /// From when.
    pub start: PeriodStart,
    /// Whether the period is also a maximum.
    pub delete_after: bool,
    /// The law that says so.
    pub statute: &'static str,
}

const fn rule(
    class: DocumentClass,
    years: u32,
    start: PeriodStart,
    delete_after: bool,
    statute: &'static str,
) -> RetentionRule {
    RetentionRule {
        class,
        years,
        start,
        delete_after,
        statute,
    }
}

const GENERAL: [RetentionRule; 3] = [
    rule(
        DocumentClass::BooksAndAccounts,
        10,
        PeriodStart::EndOfCalendarYear,
        false,
        "§147 Abs. 1 Nr. 1, Abs. 3, 4 AO; §257 Abs. 1 Nr. 1, Abs. 4, 5 HGB",
    ),
    // Since 1 January 2025 (Viertes Bürokratieentlastungsgesetz): 8 instead of 10 years.
    rule(
        DocumentClass::BookingVouchers,
        8,
        PeriodStart::EndOfCalendarYear,
        false,
        "§147 Abs. 1 Nr. 4, Abs. 3 AO; §257 Abs. 1 Nr. 4, Abs. 4 HGB",
    ),
    rule(
        DocumentClass::BusinessLetters,
        6,
        PeriodStart::EndOfCalendarYear,
        false,
        "§147 Abs. 1 Nr. 2, 3, Abs. 3 AO; §257 Abs. 1 Nr. 2, 3, Abs. 4 HGB",
    ),
];

/// The rules for a profession.
///
/// ```
/// use guss_policy::retention::{preset, DocumentClass, Profession};
///
/// let rules = preset(Profession::LawOffice);
/// assert!(rules.iter().any(|r| r.class == DocumentClass::HandFiles && r.years == 6));
/// ```
pub fn preset(profession: Profession) -> Vec<RetentionRule> {
    let mut rules = GENERAL.to_vec();
    match profession {
        Profession::GeneralBusiness => {}
        Profession::LawOffice => rules.push(rule(
            DocumentClass::HandFiles,
            6,
            PeriodStart::EventDate,
            false,
            "§50 Abs. 1 BRAO",
        )),
        Profession::MedicalPractice => rules.push(rule(
            DocumentClass::PatientRecords,
            10,
            PeriodStart::EventDate,
            false,
            "§630f Abs. 3 BGB",
        )),
        Profession::DrivingSchool => rules.push(rule(
            DocumentClass::TrainingRecords,
            5,
            PeriodStart::EndOfCalendarYear,
            true,
            "FahrlG (Aufzeichnungen über die Ausbildung)",
        )),
    }
    rules
}

/// What may and must happen to a dated item.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Verdict {
    /// The first day the item may be deleted; `None` while on legal hold or
    /// if no rule covers the class (then nothing may be deleted automatically).
    pub may_delete_from: Option<NaiveDate>,
    /// The day by which it must be deleted, where a law sets a maximum;
    /// `None` under legal hold (which overrides deletion).
    pub must_delete_by: Option<NaiveDate>,
    /// The rule applied.
    pub rule: Option<RetentionRule>,
}

/// Assesses an item of `class` dated `date` (created, or the end of the
/// treatment or mandate) under `rules`.
///
/// ```
/// use chrono::NaiveDate;
/// use guss_policy::retention::{assess, preset, DocumentClass, Profession};
///
/// let invoice = NaiveDate::from_ymd_opt(2025, 3, 10).unwrap();
/// let verdict = assess(&preset(Profession::GeneralBusiness), DocumentClass::BookingVouchers, invoice, false);
/// assert_eq!(verdict.may_delete_from, NaiveDate::from_ymd_opt(2034, 1, 1));
/// assert_eq!(verdict.must_delete_by, None);
/// ```
pub fn assess(
    rules: &[RetentionRule],
    class: DocumentClass,
    date: NaiveDate,
    legal_hold: bool,
) -> Verdict {
    let Some(rule) = rules.iter().find(|r| r.class == class).copied() else {
        return Verdict {
            may_delete_from: None,
            must_delete_by: None,
            rule: None,
        };
    };
    let start = match rule.start {
        PeriodStart::EndOfCalendarYear => {
            NaiveDate::from_ymd_opt(date.year(), 12, 31).unwrap_or(date)
        }
        PeriodStart::EventDate => date,
    };
    // The last day of the period (§188 Abs. 2 BGB); 29 February falls back to 28.
    let last_day = start
        .checked_add_months(Months::new(rule.years.saturating_mul(12)))
        .unwrap_or(NaiveDate::MAX);
    let first_free = last_day.succ_opt().unwrap_or(NaiveDate::MAX);
    if legal_hold {
        return Verdict {
            may_delete_from: None,
            must_delete_by: None,
            rule: Some(rule),
        };
    }
    Verdict {
        may_delete_from: Some(first_free),
        must_delete_by: rule.delete_after.then_some(first_free),
        rule: Some(rule),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn year_end_periods_start_on_31_december() {
        let rules = preset(Profession::GeneralBusiness);
        // Any day of 2026 gives the same answers.
        for date in [day(2026, 1, 1), day(2026, 7, 15), day(2026, 12, 31)] {
            assert_eq!(
                assess(&rules, DocumentClass::BooksAndAccounts, date, false).may_delete_from,
                Some(day(2037, 1, 1))
            );
            assert_eq!(
                assess(&rules, DocumentClass::BookingVouchers, date, false).may_delete_from,
                Some(day(2035, 1, 1))
            );
            assert_eq!(
                assess(&rules, DocumentClass::BusinessLetters, date, false).may_delete_from,
                Some(day(2033, 1, 1))
            );
        }
        assert_eq!(
            assess(
                &rules,
                DocumentClass::BusinessLetters,
                day(2025, 12, 31),
                false
            )
            .may_delete_from,
            Some(day(2032, 1, 1))
        );
    }

    #[test]
    fn patient_records_count_from_the_end_of_treatment() {
        let rules = preset(Profession::MedicalPractice);
        let verdict = assess(
            &rules,
            DocumentClass::PatientRecords,
            day(2026, 5, 15),
            false,
        );
        assert_eq!(verdict.may_delete_from, Some(day(2036, 5, 16)));
        assert_eq!(verdict.must_delete_by, None);
        assert_eq!(verdict.rule.unwrap().statute, "§630f Abs. 3 BGB");
        // A leap day ends on 28 February.
        assert_eq!(
            assess(
                &rules,
                DocumentClass::PatientRecords,
                day(2028, 2, 29),
                false
            )
            .may_delete_from,
            Some(day(2038, 3, 1))
        );
    }

    #[test]
    fn lawyers_keep_hand_files_six_years_after_the_mandate() {
        let rules = preset(Profession::LawOffice);
        assert_eq!(
            assess(&rules, DocumentClass::HandFiles, day(2026, 11, 28), false).may_delete_from,
            Some(day(2032, 11, 29))
        );
        // Other professions have no such rule: nothing is deleted automatically.
        let general = preset(Profession::GeneralBusiness);
        assert_eq!(
            assess(&general, DocumentClass::HandFiles, day(2026, 11, 28), false).may_delete_from,
            None
        );
    }

    #[test]
    fn driving_school_records_must_then_be_deleted() {
        let rules = preset(Profession::DrivingSchool);
        let verdict = assess(
            &rules,
            DocumentClass::TrainingRecords,
            day(2026, 6, 1),
            false,
        );
        assert_eq!(verdict.may_delete_from, Some(day(2032, 1, 1)));
        assert_eq!(
            verdict.must_delete_by,
            Some(day(2032, 1, 1)),
            "a maximum, not only a minimum"
        );
    }

    #[test]
    fn legal_hold_overrides_deletion() {
        let rules = preset(Profession::DrivingSchool);
        let held = assess(
            &rules,
            DocumentClass::TrainingRecords,
            day(2020, 6, 1),
            true,
        );
        assert_eq!(held.may_delete_from, None);
        assert_eq!(held.must_delete_by, None);
        assert!(held.rule.is_some());
    }

    #[test]
    fn every_preset_covers_the_general_classes() {
        for profession in [
            Profession::GeneralBusiness,
            Profession::LawOffice,
            Profession::MedicalPractice,
            Profession::DrivingSchool,
        ] {
            let rules = preset(profession);
            for class in [
                DocumentClass::BooksAndAccounts,
                DocumentClass::BookingVouchers,
                DocumentClass::BusinessLetters,
            ] {
                assert!(
                    rules.iter().any(|r| r.class == class),
                    "{profession:?} lacks {class:?}"
                );
            }
        }
    }
}
