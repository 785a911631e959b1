//! The people pages' words in German (the default) and English: a field
//! per string, so a missing translation does not compile.

/// The words of the people pages.
#[allow(missing_docs)] // the field names say what each string is
#[derive(Debug)]
pub struct PeopleText {
    pub title: &'static str,
    pub intro: &'static str,
    pub invite_title: &'static str,
    pub step_up_hint: &'static str,
    pub invitations_title: &'static str,
    pub invitations_none: &'static str,
    pub invitations_hidden: &'static str,
    pub invitations_show: &'static str,
    pub col_email: &'static str,
    pub col_expires: &'static str,
    pub col_name: &'static str,
    pub col_role: &'static str,
    pub col_status: &'static str,
    pub col_actions: &'static str,
    pub resend_button: &'static str,
    pub revoke_button: &'static str,
    pub people_title: &'static str,
    pub manage: &'static str,
    pub status_active: &'static str,
    pub status_suspended: &'static str,
    pub status_departed: &'static str,
    pub role_title: &'static str,
    pub make_admin: &'static str,
    pub make_member: &'static str,
    pub owner_note: &'static str,
    pub myself_note: &'static str,
    pub suspend_title: &'static str,
    pub suspend_hint: &'static str,
    pub suspend_button: &'static str,
    pub reactivate_button: &'static str,
    pub depart_title: &'static str,
    pub depart_hint: &'static str,
    pub successor: &'static str,
    pub depart_button: &'static str,
    pub handover_reason: &'static str,
    pub error_role: &'static str,
    pub error_not_suspended: &'static str,
    pub error_successor: &'static str,
    pub done_invitation_revoked: &'static str,
    pub done_role_changed: &'static str,
    pub done_suspended: &'static str,
    pub done_reactivated: &'static str,
    pub done_departed: &'static str,
}

/// German.
pub static DE: PeopleText = PeopleText {
    title: "Personen",
    intro: "Wer zu Ihrer Organisation gehört. Neue Kolleginnen und Kollegen laden Sie per E-Mail-Adresse ein; sie melden sich mit einem eigenen Passkey an – Passwörter gibt es nicht.",
    invite_title: "Einladen",
    step_up_hint: "Sie bestätigen jede Änderung hier mit Ihrem Passkey.",
    invitations_title: "Offene Einladungen",
    invitations_none: "Keine offenen Einladungen.",
    invitations_hidden: "Offene Einladungen enthalten gültige Links; Sie sehen sie nach einer Bestätigung mit Ihrem Passkey.",
    invitations_show: "Mit Passkey bestätigen und anzeigen",
    col_email: "E-Mail-Adresse",
    col_expires: "Gültig bis",
    col_name: "Name",
    col_role: "Rolle",
    col_status: "Status",
    col_actions: "Aktionen",
    resend_button: "Neu senden",
    revoke_button: "Zurückziehen",
    people_title: "Alle Personen",
    manage: "Verwalten",
    status_active: "aktiv",
    status_suspended: "gesperrt",
    status_departed: "ausgeschieden",
    role_title: "Rolle",
    make_admin: "Zur Administratorin / zum Administrator machen",
    make_member: "Nur noch Mitglied",
    owner_note: "Die Inhaberin oder der Inhaber behält diese Rolle; sie lässt sich hier nicht ändern.",
    myself_note: "Das sind Sie. Ihre eigene Rolle und Ihren Zugang ändert eine andere Administratorin oder ein anderer Administrator.",
    suspend_title: "Sperren",
    suspend_hint: "Sofort gesperrt: Anmeldungen, App-Passwörter und offene Links funktionieren nicht mehr. Die Daten bleiben, und Sie können die Sperre wieder aufheben.",
    suspend_button: "Sperren",
    reactivate_button: "Sperre aufheben",
    depart_title: "Ausscheiden",
    depart_hint: "Für jemanden, der die Organisation verlässt: Der Zugang endet sofort (Anmeldungen und App-Passwörter), der persönliche Ordner geht als „Übergabe NAME“ in den Ordner der Nachfolge, und die Nachfolge darf ein Jahr lang die Mails lesen und beantworten.",
    successor: "Nachfolge",
    depart_button: "Ausscheiden lassen",
    handover_reason: "Übergabe nach dem Ausscheiden von",
    error_role: "Wählen Sie Administratorin/Administrator oder Mitglied.",
    error_not_suspended: "Diese Person ist nicht gesperrt.",
    error_successor: "Wählen Sie eine aktive Kollegin oder einen aktiven Kollegen als Nachfolge.",
    done_invitation_revoked: "Die Einladung ist zurückgezogen; der Link funktioniert nicht mehr.",
    done_role_changed: "Die Rolle ist geändert.",
    done_suspended: "Gesperrt. Anmeldungen und App-Passwörter funktionieren nicht mehr.",
    done_reactivated: "Die Sperre ist aufgehoben.",
    done_departed: "Ausgeschieden: Der Zugang ist beendet, Dateien und Mails sind übergeben.",
};

/// English.
pub static EN: PeopleText = PeopleText {
    title: "People",
    intro: "Who belongs to your organisation. Invite new colleagues by e-mail address; they sign in with a passkey of their own – there are no passwords.",
    invite_title: "Invite",
    step_up_hint: "You confirm every change here with your passkey.",
    invitations_title: "Open invitations",
    invitations_none: "No open invitations.",
    invitations_hidden: "Open invitations hold live links; you see them after confirming with your passkey.",
    invitations_show: "Confirm with passkey and show",
    col_email: "E-mail address",
    col_expires: "Valid until",
    col_name: "Name",
    col_role: "Role",
    col_status: "Status",
    col_actions: "Actions",
    resend_button: "Send again",
    revoke_button: "Revoke",
    people_title: "Everyone",
    manage: "Manage",
    status_active: "active",
    status_suspended: "suspended",
    status_departed: "departed",
    role_title: "Role",
    make_admin: "Make an administrator",
    make_member: "Make a member only",
    owner_note: "The owner keeps this role; it cannot be changed here.",
    myself_note: "This is you. Another administrator changes your own role and access.",
    suspend_title: "Suspend",
    suspend_hint: "Suspended at once: sign-ins, app passwords and open links stop working. The data stays, and you can lift the suspension again.",
    suspend_button: "Suspend",
    reactivate_button: "Lift the suspension",
    depart_title: "Departure",
    depart_hint: "For someone leaving the organisation: access ends at once (sign-ins and app passwords), the personal folder moves into the successor's as \"Übergabe NAME\", and the successor may read and answer the mail for a year.",
    successor: "Successor",
    depart_button: "Record the departure",
    handover_reason: "Handover after the departure of",
    error_role: "Choose administrator or member.",
    error_not_suspended: "This person is not suspended.",
    error_successor: "Choose an active colleague as the successor.",
    done_invitation_revoked: "The invitation has been revoked; the link no longer works.",
    done_role_changed: "The role has been changed.",
    done_suspended: "Suspended. Sign-ins and app passwords no longer work.",
    done_reactivated: "The suspension has been lifted.",
    done_departed: "Departed: access has ended, files and mail have been handed over.",
};

super::results! {
    PeopleText;
    InvitationRevoked => "invitation_revoked", done_invitation_revoked;
    RoleChanged => "role_changed", done_role_changed;
    Suspended => "suspended", done_suspended;
    Reactivated => "reactivated", done_reactivated;
    Departed => "departed", done_departed;
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
