//! The security page's words in German (the default) and English: a field
//! per string, so a missing translation does not compile.

/// The words of the security page.
#[allow(missing_docs)] // the field names say what each string is
#[derive(Debug)]
pub struct SecurityText {
    pub title: &'static str,
    pub intro: &'static str,
    pub passkeys_title: &'static str,
    pub passkeys_nudge: &'static str,
    pub passkey_label: &'static str,
    pub passkey_label_default: &'static str,
    pub add_passkey: &'static str,
    pub remove: &'static str,
    pub created: &'static str,
    pub sessions_title: &'static str,
    pub sessions_hint: &'static str,
    pub this_session: &'static str,
    pub sign_out_there: &'static str,
    pub app_passwords_title: &'static str,
    pub app_passwords_none: &'static str,
    pub last_used: &'static str,
    pub never_used: &'static str,
    pub revoke: &'static str,
    pub step_up_hint: &'static str,
    pub audit_title: &'static str,
    pub audit_intro: &'static str,
    pub filter_person: &'static str,
    pub filter_anyone: &'static str,
    pub filter_kind: &'static str,
    pub filter_from: &'static str,
    pub filter_until: &'static str,
    pub filter_button: &'static str,
    pub verify_button: &'static str,
    pub verified: &'static str,
    pub tampered: &'static str,
    pub col_seq: &'static str,
    pub col_time: &'static str,
    pub col_kind: &'static str,
    pub col_actor: &'static str,
    pub col_subject: &'static str,
    pub audit_none: &'static str,
    pub audit_shown: &'static str,
    pub sheet_link: &'static str,
    pub add_failed: &'static str,
    pub done_session_revoked: &'static str,
    pub done_app_password_revoked: &'static str,
    pub done_passkey_removed: &'static str,
    pub done_passkey_added: &'static str,
}

/// German.
pub static DE: SecurityText = SecurityText {
    title: "Sicherheit",
    intro: "Womit Sie sich anmelden und welche Geräte Zugang haben. Entfernen Sie, was Sie nicht mehr kennen oder nutzen.",
    passkeys_title: "Ihre Passkeys",
    passkeys_nudge: "Sie haben nur einen Passkey. Legen Sie einen zweiten an (zum Beispiel auf Ihrem Telefon), damit Sie sich auch anmelden können, wenn ein Gerät verloren geht.",
    passkey_label: "Name des neuen Passkeys",
    passkey_label_default: "Telefon",
    add_passkey: "Passkey hinzufügen",
    remove: "Entfernen",
    created: "angelegt",
    sessions_title: "Angemeldete Browser",
    sessions_hint: "Angemeldet seit · zuletzt aktiv",
    this_session: "dieser Browser",
    sign_out_there: "Dort abmelden",
    app_passwords_title: "Geräte und App-Passwörter",
    app_passwords_none: "Keine Geräte verbunden.",
    last_used: "zuletzt benutzt",
    never_used: "noch nie benutzt",
    revoke: "Zugang entziehen",
    step_up_hint: "Zum Entfernen bestätigen Sie mit Ihrem Passkey.",
    audit_title: "Protokoll",
    audit_intro: "Alles, was in Ihrer Organisation geschieht, fälschungssicher verkettet. Die neuesten Einträge zuerst.",
    filter_person: "Person",
    filter_anyone: "alle",
    filter_kind: "Art enthält",
    filter_from: "Von (Tag)",
    filter_until: "Bis (Tag)",
    filter_button: "Filtern",
    verify_button: "Kette prüfen",
    verified: "Die Kette ist vollständig und unverändert.",
    tampered: "Die Kette ist verletzt: ",
    col_seq: "Nr.",
    col_time: "Zeit",
    col_kind: "Art",
    col_actor: "Wer",
    col_subject: "Was",
    audit_none: "Keine Einträge passen zu diesem Filter.",
    audit_shown: "Einträge insgesamt",
    sheet_link: "Notfallblatt drucken",
    add_failed: "Der Passkey wurde nicht angelegt. Versuchen Sie es noch einmal.",
    done_session_revoked: "Der Browser ist abgemeldet.",
    done_app_password_revoked: "Das Gerät hat keinen Zugang mehr.",
    done_passkey_removed: "Der Passkey ist entfernt.",
    done_passkey_added: "Der neue Passkey ist angelegt.",
};

/// English.
pub static EN: SecurityText = SecurityText {
    title: "Security",
    intro: "What you sign in with and which devices have access. Remove what you no longer know or use.",
    passkeys_title: "Your passkeys",
    passkeys_nudge: "You have only one passkey. Add a second one (on your phone, for example) so that you can still sign in if a device is lost.",
    passkey_label: "Name of the new passkey",
    passkey_label_default: "Phone",
    add_passkey: "Add a passkey",
    remove: "Remove",
    created: "created",
    sessions_title: "Signed-in browsers",
    sessions_hint: "Signed in since · last active",
    this_session: "this browser",
    sign_out_there: "Sign out there",
    app_passwords_title: "Devices and app passwords",
    app_passwords_none: "No devices connected.",
    last_used: "last used",
    never_used: "never used",
    revoke: "Revoke access",
    step_up_hint: "You confirm removals with your passkey.",
    audit_title: "Audit log",
    audit_intro: "Everything that happens in your organisation, chained so that it cannot be altered unnoticed. Newest first.",
    filter_person: "Person",
    filter_anyone: "anyone",
    filter_kind: "Kind contains",
    filter_from: "From (day)",
    filter_until: "Until (day)",
    filter_button: "Filter",
    verify_button: "Verify the chain",
    verified: "The chain is complete and unaltered.",
    tampered: "The chain is broken: ",
    col_seq: "No.",
    col_time: "Time",
    col_kind: "Kind",
    col_actor: "Who",
    col_subject: "What",
    audit_none: "No entries match this filter.",
    audit_shown: "entries in all",
    sheet_link: "Print the continuity sheet",
    add_failed: "The passkey was not added. Please try again.",
    done_session_revoked: "The browser has been signed out.",
    done_app_password_revoked: "The device no longer has access.",
    done_passkey_removed: "The passkey has been removed.",
    done_passkey_added: "The new passkey has been added.",
};

super::results! {
    SecurityText;
    SessionRevoked => "session_revoked", done_session_revoked;
    AppPasswordRevoked => "app_password_revoked", done_app_password_revoked;
    PasskeyRemoved => "passkey_removed", done_passkey_removed;
    PasskeyAdded => "passkey_added", done_passkey_added;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_result_has_a_name_and_a_sentence() {
        for &done in Done::ALL {
            assert_eq!(Done::from_key(done.key()), Some(done));
            assert_ne!(done.text(&DE), done.text(&EN));
        }
    }
}
