//! What a profession brings with it: the retention rules of its trade, the
//! shared folders and calendars an office of that kind works with, and
//! whether its files are sensitive.

use guss_policy::retention::DocumentClass;
use serde::{Deserialize, Serialize};

/// The professions the wizard offers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Profession {
    /// Lawyers, notaries.
    LawOffice,
    /// Doctors, therapists.
    MedicalPractice,
    /// Driving schools.
    DrivingSchool,
    /// Everyone else.
    Other,
}

/// A shared calendar made at setup: its slug and names.
#[derive(Clone, Copy, Debug)]
pub struct CalendarPreset {
    /// The path segment.
    pub slug: &'static str,
    /// Its name in German.
    pub de: &'static str,
    /// Its name in English.
    pub en: &'static str,
}

/// The presets of one profession.
#[derive(Clone, Copy, Debug)]
pub struct Preset {
    /// Shared folders below `/office/`, German names (the office's language).
    pub folders: &'static [&'static str],
    /// Shared calendars.
    pub calendars: &'static [CalendarPreset],
    /// The retention rules that apply.
    pub retention: guss_policy::retention::Profession,
    /// Which shared folder holds which class of document: the files in it
    /// are kept as that class's rule says.
    pub filing: &'static [(&'static str, DocumentClass)],
    /// Whether the shared files hold special categories of data (health),
    /// which policies keep to compliant devices.
    pub sensitive: bool,
}

/// Every office keeps books and vouchers (the longer period, of the
/// books, covers both) and business letters.
const BOOKS: (&str, DocumentClass) = ("Buchhaltung", DocumentClass::BooksAndAccounts);
const LETTERS: (&str, DocumentClass) = ("Verwaltung", DocumentClass::BusinessLetters);

const OFFICE_CALENDAR: CalendarPreset = CalendarPreset {
    slug: "buero",
    de: "Büro",
    en: "Office",
};

impl Profession {
    /// Every profession, in the order the wizard shows them.
    pub const ALL: [Profession; 4] = [
        Profession::LawOffice,
        Profession::MedicalPractice,
        Profession::DrivingSchool,
        Profession::Other,
    ];

    /// The form value.
    pub fn key(self) -> &'static str {
        match self {
            Profession::LawOffice => "law_office",
            Profession::MedicalPractice => "medical_practice",
            Profession::DrivingSchool => "driving_school",
            Profession::Other => "other",
        }
    }

    /// The profession a form value names.
    ///
    /// ```
    /// use guss_server::presets::Profession;
    /// assert_eq!(Profession::from_key("law_office"), Some(Profession::LawOffice));
    /// assert_eq!(Profession::from_key("astronaut"), None);
    /// ```
    pub fn from_key(key: &str) -> Option<Profession> {
        Profession::ALL.into_iter().find(|p| p.key() == key)
    }

    /// What it brings.
    pub fn preset(self) -> Preset {
        use guss_policy::retention::Profession as Retention;
        match self {
            Profession::LawOffice => Preset {
                folders: &["Akten", "Buchhaltung", "Vorlagen", "Verwaltung"],
                filing: &[("Akten", DocumentClass::HandFiles), BOOKS, LETTERS],
                calendars: &[
                    OFFICE_CALENDAR,
                    CalendarPreset {
                        slug: "fristen",
                        de: "Fristen",
                        en: "Deadlines",
                    },
                ],
                retention: Retention::LawOffice,
                sensitive: false,
            },
            Profession::MedicalPractice => Preset {
                folders: &["Patientenakten", "Buchhaltung", "Vorlagen", "Verwaltung"],
                filing: &[
                    ("Patientenakten", DocumentClass::PatientRecords),
                    BOOKS,
                    LETTERS,
                ],
                calendars: &[
                    OFFICE_CALENDAR,
                    CalendarPreset {
                        slug: "sprechstunden",
                        de: "Sprechstunden",
                        en: "Consultations",
                    },
                ],
                retention: Retention::MedicalPractice,
                sensitive: true,
            },
            Profession::DrivingSchool => Preset {
                folders: &[
                    "Ausbildungsnachweise",
                    "Buchhaltung",
                    "Vorlagen",
                    "Verwaltung",
                ],
                filing: &[
                    ("Ausbildungsnachweise", DocumentClass::TrainingRecords),
                    BOOKS,
                    LETTERS,
                ],
                calendars: &[
                    OFFICE_CALENDAR,
                    CalendarPreset {
                        slug: "fahrstunden",
                        de: "Fahrstunden",
                        en: "Driving lessons",
                    },
                ],
                retention: Retention::DrivingSchool,
                sensitive: false,
            },
            Profession::Other => Preset {
                folders: &["Gemeinsam", "Buchhaltung", "Vorlagen", "Verwaltung"],
                filing: &[BOOKS, LETTERS],
                calendars: &[OFFICE_CALENDAR],
                retention: Retention::GeneralBusiness,
                sensitive: false,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_profession_has_folders_an_office_calendar_and_retention_rules() {
        for profession in Profession::ALL {
            let preset = profession.preset();
            assert!(!preset.folders.is_empty());
            assert_eq!(preset.calendars.first().map(|c| c.slug), Some("buero"));
            let rules = guss_policy::retention::preset(preset.retention);
            for (folder, class) in preset.filing {
                assert!(preset.folders.contains(folder), "{folder} is made");
                assert!(
                    rules.iter().any(|r| r.class == *class),
                    "{class:?} has a rule"
                );
            }
            assert_eq!(Profession::from_key(profession.key()), Some(profession));
        }
        assert!(Profession::MedicalPractice.preset().sensitive);
    }
}
