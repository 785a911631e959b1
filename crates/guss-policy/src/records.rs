//! The record of processing activities (GDPR Art. 30) of an organisation,
//! from what each crate declares, as JSON and as Markdown.

use guss_core::ProcessingActivity;
use serde::Serialize;

/// An organisation's record of processing activities.
#[derive(Clone, Debug, Serialize)]
pub struct Record<'a> {
    /// The controller: the organisation's name and contact.
    pub controller: &'a str,
    /// Its data protection officer or contact, if any.
    pub data_protection_contact: Option<&'a str>,
    /// The activities, from every crate in use.
    pub activities: Vec<ProcessingActivity>,
}

impl<'a> Record<'a> {
    /// A record for `controller` from the crates' declarations.
    pub fn new(controller: &'a str, declarations: &[&[ProcessingActivity]]) -> Self {
        let mut activities: Vec<ProcessingActivity> = declarations
            .iter()
            .flat_map(|d| d.iter().copied())
            .collect();
        activities.sort_by_key(|a| a.id);
        activities.dedup_by_key(|a| a.id);
        Record {
            controller,
            data_protection_contact: None,
            activities,
        }
    }

    /// The record as JSON.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
    }

    /// The record as Markdown, to print or file.
    ///
    /// ```
    /// use guss_policy::records::Record;
    ///
    /// let record = Record::new("Kanzlei Schmidt, Hauptstr. 1, Berlin", &[guss_policy::PROCESSING]);
    /// let text = record.to_markdown();
    /// assert!(text.starts_with("# Record of processing activities"));
    /// assert!(text.contains("Audit log"));
    /// ```
    pub fn to_markdown(&self) -> String {
        let mut out = format!(
            "# Record of processing activities (Art. 30 GDPR)\n\nController: {}\n",
            escape(self.controller)
        );
        if let Some(contact) = self.data_protection_contact {
            out.push_str(&format!("Data protection contact: {}\n", escape(contact)));
        }
        for activity in &self.activities {
            out.push_str(&format!("\n## {}\n\n", escape(activity.name)));
            for (label, items) in [
                ("Purposes", activity.purposes),
                ("Data subjects", activity.data_subjects),
                ("Data categories", activity.data_categories),
                ("Recipients", activity.recipients),
            ] {
                out.push_str(&format!(
                    "- **{label}:** {}\n",
                    items
                        .iter()
                        .map(|i| escape(i))
                        .collect::<Vec<_>>()
                        .join("; ")
                ));
            }
            out.push_str(&format!(
                "- **Retention:** {}\n",
                escape(activity.retention)
            ));
            out.push_str(&format!(
                "- **Legal basis:** {}\n",
                escape(activity.legal_basis)
            ));
        }
        out
    }
}

/// Keeps organisation-supplied text from being read as Markdown structure.
fn escape(text: &str) -> String {
    text.chars()
        .flat_map(|c| match c {
            '\n' | '\r' => vec![' '],
            '*' | '_' | '#' | '[' | ']' | '<' | '>' | '`' | '|' => vec!['\\', c],
            c => vec![c],
        })
        .collect()
}
