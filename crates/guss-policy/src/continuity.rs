//! Continuity checks: what would leave the organisation stuck if one person
//! were gone, and which emergency drills are overdue. Findings are data for
//! the UI, each with its severity and what to do, in German and English.

use std::collections::BTreeMap;

use chrono::{DateTime, TimeDelta, Utc};
use guss_core::PersonId;
use serde::{Deserialize, Serialize};

use crate::delegation::DeputyOf;

/// How urgent a finding is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Fix soon.
    Warning,
    /// Fix now: one absence away from being locked out.
    Critical,
}

/// What is wrong.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Issue {
    /// A critical role is held by one person (or none).
    SingleHolder {
        /// The role.
        role: String,
        /// How many hold it.
        holders: usize,
    },
    /// A critical role has nobody named to stand in.
    NoNamedDeputy {
        /// The role.
        role: String,
    },
    /// The break-glass recovery has not been drilled recently (or never).
    BreakGlassNotDrilled {
        /// When it last was.
        last: Option<DateTime<Utc>>,
    },
    /// Restoring from backup has not been drilled recently (or never).
    RestoreNotDrilled {
        /// When it last was.
        last: Option<DateTime<Utc>>,
    },
}

/// One finding.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Finding {
    /// What is wrong.
    pub issue: Issue,
    /// How urgent.
    pub severity: Severity,
    /// What to do, in German.
    pub action_de: String,
    /// What to do, in English.
    pub action_en: String,
}

/// What the check looks at; the bundle collects it from identity, policy and backups.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Situation {
    /// Active holders of each role.
    pub role_holders: BTreeMap<String, Vec<PersonId>>,
    /// Named deputies.
    pub deputies: Vec<(DeputyOf, PersonId)>,
    /// When break-glass recovery was last drilled.
    pub last_break_glass_drill: Option<DateTime<Utc>>,
    /// When a restore from backup was last drilled.
    pub last_restore_drill: Option<DateTime<Utc>>,
}

/// Roles the organisation cannot work without.
pub const CRITICAL_ROLES: [&str; 2] = ["owner", "admin"];

/// Drills older than this are overdue.
pub const DRILL_INTERVAL: TimeDelta = TimeDelta::days(90);

/// The findings for a situation, most severe first.
///
/// ```
/// use guss_policy::continuity::{check, Issue, Situation};
///
/// let findings = check(&Situation::default(), chrono::Utc::now());
/// assert!(findings.iter().any(|f| matches!(&f.issue, Issue::SingleHolder { role, holders: 0 } if role == "owner")));
/// ```
pub fn check(situation: &Situation, now: DateTime<Utc>) -> Vec<Finding> {
    let mut findings = Vec::new();
    for role in CRITICAL_ROLES {
        let holders = situation.role_holders.get(role).map_or(0, Vec::len);
        if holders < 2 {
            findings.push(Finding {
                issue: Issue::SingleHolder {
                    role: role.to_owned(),
                    holders,
                },
                severity: Severity::Critical,
                action_de: format!("Eine zweite Person in die Rolle „{role}“ aufnehmen."),
                action_en: format!("Give the role \"{role}\" to a second person."),
            });
        }
        let named = situation
            .deputies
            .iter()
            .any(|(holder, _)| *holder == DeputyOf::Role(role.to_owned()));
        if !named {
            findings.push(Finding {
                issue: Issue::NoNamedDeputy {
                    role: role.to_owned(),
                },
                severity: Severity::Warning,
                action_de: format!("Eine Vertretung für die Rolle „{role}“ benennen."),
                action_en: format!("Name a deputy for the role \"{role}\"."),
            });
        }
    }
    if situation
        .last_break_glass_drill
        .is_none_or(|at| now - at > DRILL_INTERVAL)
    {
        findings.push(Finding {
            issue: Issue::BreakGlassNotDrilled {
                last: situation.last_break_glass_drill,
            },
            severity: Severity::Warning,
            action_de: "Den Notfallzugang mit den Vertrauenspersonen üben.".to_owned(),
            action_en: "Drill the break-glass recovery with the trustees.".to_owned(),
        });
    }
    if situation
        .last_restore_drill
        .is_none_or(|at| now - at > DRILL_INTERVAL)
    {
        findings.push(Finding {
            issue: Issue::RestoreNotDrilled {
                last: situation.last_restore_drill,
            },
            severity: Severity::Warning,
            action_de: "Eine Wiederherstellung aus der Sicherung üben.".to_owned(),
            action_en: "Drill a restore from the backup.".to_owned(),
        });
    }
    findings.sort_by_key(|f| std::cmp::Reverse(f.severity));
    findings
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_well_run_office_has_no_findings() {
        let now = Utc::now();
        let (a, b) = (PersonId::new(), PersonId::new());
        let situation = Situation {
            role_holders: BTreeMap::from([
                ("owner".to_owned(), vec![a, b]),
                ("admin".to_owned(), vec![a, b]),
            ]),
            deputies: vec![
                (DeputyOf::Role("owner".into()), b),
                (DeputyOf::Role("admin".into()), a),
            ],
            last_break_glass_drill: Some(now - TimeDelta::days(30)),
            last_restore_drill: Some(now - TimeDelta::days(89)),
        };
        assert_eq!(check(&situation, now), []);
    }

    #[test]
    fn single_holders_and_stale_drills_are_found_most_severe_first() {
        let now = Utc::now();
        let a = PersonId::new();
        let situation = Situation {
            role_holders: BTreeMap::from([("owner".to_owned(), vec![a])]),
            deputies: vec![],
            last_break_glass_drill: Some(now - TimeDelta::days(91)),
            last_restore_drill: None,
        };
        let findings = check(&situation, now);
        assert_eq!(findings.len(), 6);
        assert_eq!(findings[0].severity, Severity::Critical);
        assert!(findings.iter().any(|f| f.issue
            == Issue::SingleHolder {
                role: "owner".into(),
                holders: 1
            }));
        assert!(findings.iter().any(|f| f.issue
            == Issue::SingleHolder {
                role: "admin".into(),
                holders: 0
            }));
        assert!(
            findings
                .iter()
                .any(|f| matches!(f.issue, Issue::BreakGlassNotDrilled { last: Some(_) }))
        );
        assert!(
            findings
                .iter()
                .any(|f| matches!(f.issue, Issue::RestoreNotDrilled { last: None }))
        );
        assert!(
            findings
                .iter()
                .all(|f| !f.action_de.is_empty() && !f.action_en.is_empty())
        );
    }
}
