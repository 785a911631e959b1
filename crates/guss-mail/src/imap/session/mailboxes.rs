//! The commands about mailboxes: LIST (with LIST-EXTENDED and
//! LIST-STATUS), CREATE, SUBSCRIBE, STATUS and QUOTA.

use super::*;

/// Most patterns in one LIST (LIST-EXTENDED allows several).
const MAX_PATTERNS: usize = 32;
/// Longest LIST pattern, in bytes.
const MAX_PATTERN_LENGTH: usize = 512;
/// Attributes of a folder that only holds others' mailboxes.
const NOSELECT_PARENT: [&str; 2] = ["\\Noselect", "\\HasChildren"];

impl Session {
    pub(super) async fn create(&mut self, mailbox: &Mailbox<'_>) -> Result<Reply> {
        let Some(name) = self.name_of(mailbox) else {
            return Ok(Reply::bad("Invalid mailbox name"));
        };
        if access::is_foreign(&name) {
            return Ok(Reply::no(NOT_YOURS));
        }
        if self.find_mailbox(mailbox).await?.is_some() {
            return Ok(Reply::no("[ALREADYEXISTS] Mailbox exists"));
        }
        let Some(user) = &self.user else {
            return Ok(Reply::bad("Log in first"));
        };
        user.mail.create_mailbox(&user.account, &name).await?;
        Ok(Reply::ok("CREATE completed"))
    }

    pub(super) async fn subscribe(&mut self, mailbox: &Mailbox<'_>, on: bool) -> Result<Reply> {
        let Some(found) = self.find_mailbox(mailbox).await? else {
            return Ok(Reply::no("[NONEXISTENT] No such mailbox"));
        };
        // Others' mailboxes are listed as subscribed while they may be
        // opened; their owner's subscriptions stay untouched.
        if found.delegation.is_none() {
            self.mail()?.subscribe(found.info.id, on).await?;
        }
        Ok(Reply::ok(if on {
            "SUBSCRIBE completed"
        } else {
            "UNSUBSCRIBE completed"
        }))
    }

    pub(super) async fn status(
        &mut self,
        mailbox: &Mailbox<'_>,
        items: &[StatusDataItemName],
    ) -> Result<Reply> {
        let Some(found) = self.find_mailbox(mailbox).await? else {
            return Ok(Reply::no("[NONEXISTENT] No such mailbox"));
        };
        Ok(match self.status_of(&found, items).await? {
            Ok(()) => Reply::ok("STATUS completed"),
            Err(reply) => reply,
        })
    }

    /// The `* STATUS` line of a mailbox.
    pub(super) async fn status_of(
        &mut self,
        found: &Found,
        items: &[StatusDataItemName],
    ) -> Result<std::result::Result<(), Reply>> {
        let info = &found.info;
        let mail = self.mail()?;
        let (total, unseen) = mail.counts(info.id).await?;
        let needs_messages = items.iter().any(|i| {
            matches!(
                i,
                StatusDataItemName::Deleted
                    | StatusDataItemName::DeletedStorage
                    | StatusDataItemName::Size
            )
        });
        let deleted = |m: &&MessageMeta| m.flags.contains("\\Deleted");
        let messages = if needs_messages {
            mail.messages(info.id, 1..=u32::MAX).await?
        } else {
            Vec::new()
        };
        let mut values = Vec::new();
        for item in items {
            let value = match item {
                StatusDataItemName::Messages => format!("MESSAGES {total}"),
                // RFC 9051 §6.3.11: RECENT is gone; IMAP4rev1 clients hear 0.
                StatusDataItemName::Recent if !self.rev2 => "RECENT 0".to_owned(),
                StatusDataItemName::UidNext => format!("UIDNEXT {}", info.uid_next),
                StatusDataItemName::UidValidity => format!("UIDVALIDITY {}", info.uid_validity),
                StatusDataItemName::Unseen => format!("UNSEEN {unseen}"),
                StatusDataItemName::Deleted => {
                    format!("DELETED {}", messages.iter().filter(deleted).count())
                }
                // RFC 9208 §5.1 (with QUOTA=RES-STORAGE): what EXPUNGE frees.
                StatusDataItemName::DeletedStorage => {
                    let bytes: u64 = messages.iter().filter(deleted).map(|m| m.size).sum();
                    format!("DELETED-STORAGE {}", bytes.div_ceil(1024))
                }
                StatusDataItemName::Size => {
                    format!("SIZE {}", messages.iter().map(|m| m.size).sum::<u64>())
                }
                StatusDataItemName::HighestModSeq => {
                    format!("HIGHESTMODSEQ {}", info.highest_modseq.max(1))
                }
                other => return Ok(Err(Reply::bad(format!("STATUS {other:?} is not served")))),
            };
            values.push(value);
        }
        self.record(found.delegation.as_ref(), info.id, "status", &[])
            .await;
        let mut out = b"* STATUS ".to_vec();
        fetch::string(&mut out, &self.external(&found.visible()));
        out.extend_from_slice(format!(" ({})\r\n", values.join(" ")).as_bytes());
        self.output.extend_from_slice(&out);
        Ok(Ok(()))
    }

    /// GETQUOTAROOT (RFC 9208 §4.3): each account is one quota root, `""`
    /// for the person's own.
    pub(super) async fn quota_root(&mut self, mailbox: &Mailbox<'_>) -> Result<Reply> {
        let Some(found) = self.find_mailbox(mailbox).await? else {
            return Ok(Reply::no("[NONEXISTENT] No such mailbox"));
        };
        let root = found
            .delegation
            .as_ref()
            .map(Delegation::root)
            .unwrap_or_default();
        let mut line = b"* QUOTAROOT ".to_vec();
        fetch::string(&mut line, &self.external(&found.visible()));
        line.push(b' ');
        fetch::string(&mut line, &self.external(&root));
        line.extend_from_slice(b"\r\n");
        self.output.extend_from_slice(&line);
        self.quota(&root).await?;
        Ok(Reply::ok("GETQUOTAROOT completed"))
    }

    /// GETQUOTA (RFC 9208 §4.2): storage in units of 1024 bytes.
    pub(super) async fn quota(&mut self, root: &str) -> Result<Reply> {
        let Some(account) = self.quota_account(root).await? else {
            return Ok(Reply::no("[NONEXISTENT] No such quota root"));
        };
        let usage = self.mail()?.usage(&account).await?;
        let mut line = b"* QUOTA ".to_vec();
        fetch::string(&mut line, &self.external(root));
        line.extend_from_slice(
            format!(
                " (STORAGE {} {})\r\n",
                usage.bytes.div_ceil(1024),
                self.config().storage_quota / 1024
            )
            .as_bytes(),
        );
        self.output.extend_from_slice(&line);
        Ok(Reply::ok("GETQUOTA completed"))
    }

    /// The account of a quota root the person may see.
    pub(super) async fn quota_account(&self, root: &str) -> Result<Option<Account>> {
        let Some(user) = &self.user else {
            return Ok(None);
        };
        if root.is_empty() {
            return Ok(Some(user.account.clone()));
        }
        let Some((namespace, label, "")) = access::split(root) else {
            return Ok(None);
        };
        let found = self.delegation(namespace, label).await?;
        Ok(found.map(|d| d.account))
    }

    /// Whether `more` bytes would take the account owning `mailbox` over
    /// its quota.
    pub(super) async fn over_quota(&self, mailbox: &MailboxInfo, more: u64) -> Result<bool> {
        let used = self.mail()?.usage(&mailbox.account).await?.bytes;
        Ok(used.saturating_add(more) > self.config().storage_quota)
    }

    /// LIST and LSUB of RFC 3501.
    pub(super) async fn list(
        &mut self,
        reference: &Mailbox<'_>,
        pattern: &ListMailbox<'_>,
        subscribed_only: bool,
    ) -> Result<Reply> {
        let reference = match reference {
            Mailbox::Inbox => "INBOX".to_owned(),
            Mailbox::Other(other) => String::from_utf8_lossy(other.as_ref()).into_owned(),
        };
        let pattern = match pattern {
            ListMailbox::Token(token) => String::from_utf8_lossy(token.as_ref()).into_owned(),
            ListMailbox::String(string) => String::from_utf8_lossy(string.as_ref()).into_owned(),
        };
        let list = ListExtended {
            reference,
            patterns: vec![pattern],
            subscribed: subscribed_only,
            ..ListExtended::default()
        };
        let command = if subscribed_only { "LSUB" } else { "LIST" };
        self.list_with(command, list).await
    }

    /// LIST with the options of LIST-EXTENDED and LIST-STATUS.
    pub(super) async fn list_with(&mut self, command: &str, list: ListExtended) -> Result<Reply> {
        if list.patterns.iter().all(String::is_empty) {
            // RFC 9051 §6.3.9: the delimiter and the root.
            self.line(&format!("* {command} (\\Noselect) \"{DELIMITER}\" \"\""));
            return Ok(Reply::ok(format!("{command} completed")));
        }
        let items = match &list.status {
            Some(names) => match names
                .iter()
                .map(|n| status_item(n))
                .collect::<Option<Vec<_>>>()
            {
                Some(items) => Some(items),
                None => return Ok(Reply::bad("Unknown STATUS item")),
            },
            None => None,
        };
        let Some(reference) = self.internal(&list.reference) else {
            return Ok(Reply::bad("Invalid reference"));
        };
        // Matching costs pattern length times name length per mailbox.
        if list.patterns.len() > MAX_PATTERNS
            || list.patterns.iter().any(|p| p.len() > MAX_PATTERN_LENGTH)
        {
            return Ok(Reply::bad("Too many or too long patterns"));
        }
        let mut patterns = Vec::new();
        for pattern in list.patterns.iter().filter(|p| !p.is_empty()) {
            let Some(pattern) = self.internal(pattern) else {
                return Ok(Reply::bad("Invalid pattern"));
            };
            patterns.push(format!("{reference}{pattern}"));
        }
        let entries = self.list_entries().await?;
        // What the selection options choose.
        let chosen = |e: &ListEntry| {
            let special = e.attributes.len() > 1 && e.found.is_some();
            (!list.subscribed || e.subscribed) && (!list.special_use || special)
        };
        // RFC 5258 §3.5: with RECURSIVEMATCH, a parent that is not chosen
        // itself is listed for its chosen children, with CHILDINFO.
        let parent_of_chosen: Vec<bool> = entries
            .iter()
            .map(|parent| {
                let below = format!("{}{DELIMITER}", parent.name);
                list.recursive
                    && entries
                        .iter()
                        .any(|e| e.name.starts_with(&below) && chosen(e))
            })
            .collect();
        let mut out = Vec::new();
        let mut statuses = Vec::new();
        for (entry, parent) in entries.iter().zip(parent_of_chosen) {
            let matches = patterns.iter().any(|pattern| {
                if entry.name == "INBOX" {
                    wildcard(&pattern.to_ascii_uppercase(), &entry.name)
                } else {
                    wildcard(pattern, &entry.name)
                }
            });
            let is_chosen = chosen(entry);
            if !matches || !(is_chosen || parent) {
                continue;
            }
            let mut attributes = entry.attributes.clone();
            if list.return_subscribed && entry.subscribed {
                attributes.push("\\Subscribed");
            }
            out.extend_from_slice(
                format!("* {command} ({}) \"{DELIMITER}\" ", attributes.join(" ")).as_bytes(),
            );
            fetch::string(&mut out, &self.external(&entry.name));
            if !is_chosen {
                let why = if list.subscribed {
                    "SUBSCRIBED"
                } else {
                    "SPECIAL-USE"
                };
                out.extend_from_slice(format!(" (\"CHILDINFO\" (\"{why}\"))").as_bytes());
            }
            out.extend_from_slice(b"\r\n");
            if let (true, Some(found), Some(_)) = (is_chosen, &entry.found, &items) {
                statuses.push(found.clone());
            }
        }
        self.output.extend_from_slice(&out);
        // RFC 5819: the STATUS of each selectable mailbox listed.
        if let Some(items) = items {
            for found in statuses {
                if let Err(reply) = self.status_of(&found, &items).await? {
                    return Ok(reply);
                }
            }
        }
        Ok(Reply::ok(format!("{command} completed")))
    }

    /// Every mailbox the person may list, their own first: name,
    /// attributes, whether subscribed, and the mailbox (none for a folder
    /// that only holds others' mailboxes).
    async fn list_entries(&self) -> Result<Vec<ListEntry>> {
        let Some(user) = &self.user else {
            return Ok(Vec::new());
        };
        let mut boxes = user.mail.mailboxes(&user.account).await?;
        boxes.sort_by_key(|b| (b.role != Some(Role::Inbox), b.name.clone()));
        let mut entries = Vec::new();
        for mailbox in &boxes {
            let name = if mailbox.role == Some(Role::Inbox) {
                "INBOX"
            } else {
                mailbox.name.as_str()
            };
            let mut attributes = vec![children(&boxes, name)];
            attributes.extend(mailbox.role.and_then(special_use));
            entries.push(ListEntry {
                name: name.to_owned(),
                attributes,
                subscribed: mailbox.subscribed,
                found: Some(Found {
                    info: mailbox.clone(),
                    delegation: None,
                }),
            });
        }
        // Others' mailboxes under their namespace (without special uses,
        // which would make clients take them for the person's own).
        let delegations = access::all(&self.imap, &user.mail, user.person, &user.domain).await?;
        let mut roots = BTreeSet::new();
        for delegation in delegations {
            let root = delegation.root();
            if let Some((namespace, _)) = root.split_once(DELIMITER)
                && roots.insert(namespace.to_owned())
            {
                entries.push(ListEntry::parent(namespace));
            }
            entries.push(ListEntry::parent(&root));
            let theirs = user.mail.existing_mailboxes(&delegation.account).await?;
            for mailbox in &theirs {
                let name = if mailbox.role == Some(Role::Inbox) {
                    "INBOX"
                } else {
                    mailbox.name.as_str()
                };
                entries.push(ListEntry {
                    name: delegation.visible(name),
                    attributes: vec![children(&theirs, name)],
                    subscribed: true,
                    found: Some(Found {
                        info: mailbox.clone(),
                        delegation: Some(delegation.clone()),
                    }),
                });
            }
        }
        Ok(entries)
    }
}

/// One mailbox in a LIST response.
struct ListEntry {
    name: String,
    attributes: Vec<&'static str>,
    subscribed: bool,
    found: Option<Found>,
}

impl ListEntry {
    /// A folder holding others' mailboxes, not a mailbox itself.
    pub(super) fn parent(name: &str) -> Self {
        ListEntry {
            name: name.to_owned(),
            attributes: NOSELECT_PARENT.to_vec(),
            subscribed: true,
            found: None,
        }
    }
}

/// The special-use attribute of a role (RFC 6154 §2).
pub(super) fn special_use(role: Role) -> Option<&'static str> {
    match role {
        Role::Sent => Some("\\Sent"),
        Role::Drafts => Some("\\Drafts"),
        Role::Trash => Some("\\Trash"),
        Role::Junk => Some("\\Junk"),
        Role::Archive => Some("\\Archive"),
        Role::Inbox => None,
    }
}

/// A STATUS item named in LIST-STATUS.
fn status_item(name: &str) -> Option<StatusDataItemName> {
    Some(match name {
        "MESSAGES" => StatusDataItemName::Messages,
        "RECENT" => StatusDataItemName::Recent,
        "UIDNEXT" => StatusDataItemName::UidNext,
        "UIDVALIDITY" => StatusDataItemName::UidValidity,
        "UNSEEN" => StatusDataItemName::Unseen,
        "DELETED" => StatusDataItemName::Deleted,
        "SIZE" => StatusDataItemName::Size,
        "DELETED-STORAGE" => StatusDataItemName::DeletedStorage,
        "HIGHESTMODSEQ" => StatusDataItemName::HighestModSeq,
        _ => return None,
    })
}

/// `\HasChildren` if a mailbox of `boxes` lies below `name`.
fn children(boxes: &[MailboxInfo], name: &str) -> &'static str {
    let prefix = format!("{name}{DELIMITER}");
    if boxes.iter().any(|b| b.name.starts_with(&prefix)) {
        "\\HasChildren"
    } else {
        "\\HasNoChildren"
    }
}

/// Whether `name` matches a LIST pattern: `*` matches anything, `%`
/// anything but the hierarchy delimiter (RFC 9051 §6.3.9). Linear in
/// both lengths times each other, so hostile patterns stay cheap.
fn wildcard(pattern: &str, name: &str) -> bool {
    let pattern: Vec<char> = pattern.chars().collect();
    let name: Vec<char> = name.chars().collect();
    // reachable[j]: the pattern so far can match the first j chars of name.
    let mut reachable = vec![false; name.len() + 1];
    if let Some(first) = reachable.first_mut() {
        *first = true;
    }
    for &p in &pattern {
        let mut next = vec![false; name.len() + 1];
        match p {
            '*' | '%' => {
                // `*`: some earlier point matched; `%`: and no delimiter since.
                let mut on = false;
                for (j, slot) in next.iter_mut().enumerate() {
                    if p == '%' && j > 0 && name.get(j - 1) == Some(&DELIMITER) {
                        on = false;
                    }
                    if reachable.get(j).copied().unwrap_or(false) {
                        on = true;
                    }
                    *slot = on;
                }
            }
            c => {
                for j in 1..=name.len() {
                    let matched = reachable.get(j - 1).copied().unwrap_or(false)
                        && name.get(j - 1) == Some(&c);
                    if let Some(slot) = next.get_mut(j) {
                        *slot = matched;
                    }
                }
            }
        }
        reachable = next;
    }
    reachable.last().copied().unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::wildcard;

    #[test]
    pub(super) fn list_patterns() {
        assert!(wildcard("*", "INBOX"));
        assert!(wildcard("*", "a/b/c"));
        assert!(wildcard("%", "Sent"));
        assert!(!wildcard("%", "a/b"));
        assert!(wildcard("a/%", "a/b"));
        assert!(!wildcard("a/%", "a/b/c"));
        assert!(wildcard("a/*", "a/b/c"));
        assert!(wildcard("S%t", "Sent"));
        assert!(!wildcard("Sent", "Sent/x"));
        assert!(wildcard("%/%", "a/b"));
        assert!(!wildcard("x*", "Sent"));
    }
}
