//! The commands about messages: SELECT and EXAMINE (with CONDSTORE and
//! QRESYNC), FETCH, STORE, SEARCH, APPEND, COPY, MOVE and EXPUNGE, and
//! the update of the selected mailbox after each command.

use super::mailboxes::special_use;
use super::*;

impl Session {
    pub(super) async fn search(&mut self, keys: &[SearchKey<'_>], uid: bool) -> Result<Reply> {
        // RFC 5182 §2.1: a SEARCH that saves clears `$` first, also when it fails.
        if self.search_return.as_ref().is_some_and(|r| r.save)
            && let Some(selected) = &mut self.selected
        {
            selected.saved.clear();
        }
        if let Err(why) = keys.iter().try_for_each(search::check) {
            return Ok(Reply::bad(why));
        }
        let Some(selected) = &self.selected else {
            return Ok(Reply::bad("No mailbox selected"));
        };
        let mail = self.mail()?;
        let stored: HashMap<u32, MessageMeta> = mail
            .messages(selected.mailbox.id, 1..=u32::MAX)
            .await?
            .into_iter()
            .map(|m| (m.uid, m))
            .collect();
        let needs_body = keys.iter().any(search::needs_body);
        let largest = (
            u32::try_from(selected.uids.len()).unwrap_or(u32::MAX),
            selected.uids.last().copied().unwrap_or(0),
        );
        let (mut found, mut found_uids) = (Vec::new(), Vec::new());
        // RFC 7162 §3.1.5: a MODSEQ key turns CONDSTORE on and has the
        // answer name the highest MODSEQ of what was found.
        let by_modseq = keys.iter().any(search::uses_modseq);
        let mut highest = 0u64;
        for (&message_uid, seq) in selected.uids.iter().zip(1u32..) {
            let Some(meta) = stored.get(&message_uid) else {
                continue;
            };
            let raw = if needs_body {
                mail.raw(meta).await.ok()
            } else {
                None
            };
            let candidate = search::Candidate {
                seq,
                meta,
                raw: raw.as_deref(),
                largest,
            };
            if keys.iter().all(|k| search::matches(k, &candidate)) {
                found.push(if uid { message_uid } else { seq });
                found_uids.push(message_uid);
                highest = highest.max(meta.modseq);
            }
        }
        self.condstore |= by_modseq;
        if let Some(selected) = &self.selected {
            let (delegation, id) = (selected.delegation.as_ref(), selected.mailbox.id);
            self.record(delegation, id, "search", &found_uids).await;
        }
        // ESEARCH (RFC 4731), which IMAP4rev2 always answers with.
        let returns = self.search_return.take().or_else(|| {
            self.rev2.then(|| SearchReturn {
                all: true,
                ..SearchReturn::default()
            })
        });
        match returns {
            Some(returns) => {
                if returns.save
                    && let Some(selected) = &mut self.selected
                {
                    // SAVE with MIN or MAX alone keeps only those (§2.1).
                    let ends_only = (returns.min || returns.max) && !(returns.all || returns.count);
                    selected.saved = if !ends_only {
                        found_uids
                    } else {
                        let ends = [
                            found_uids.first().filter(|_| returns.min),
                            found_uids.last().filter(|_| returns.max),
                        ];
                        let mut ends: Vec<u32> = ends.into_iter().flatten().copied().collect();
                        ends.dedup();
                        ends
                    };
                }
                if !returns.answers() {
                    return Ok(Reply::ok("SEARCH completed, result saved"));
                }
                let mut line = format!("* ESEARCH (TAG \"{}\")", self.tag);
                if uid {
                    line.push_str(" UID");
                }
                if let (true, Some(min)) = (returns.min, found.first()) {
                    line.push_str(&format!(" MIN {min}"));
                }
                if let (true, Some(max)) = (returns.max, found.last()) {
                    line.push_str(&format!(" MAX {max}"));
                }
                if returns.all && !found.is_empty() {
                    line.push_str(&format!(" ALL {}", sequence::compact(&found)));
                }
                if returns.count {
                    line.push_str(&format!(" COUNT {}", found.len()));
                }
                if by_modseq && !found.is_empty() {
                    line.push_str(&format!(" MODSEQ {}", highest.max(1)));
                }
                self.line(&line);
            }
            None => {
                let mut line = "* SEARCH".to_owned();
                for n in &found {
                    line.push_str(&format!(" {n}"));
                }
                if by_modseq && !found.is_empty() {
                    line.push_str(&format!(" (MODSEQ {})", highest.max(1)));
                }
                self.line(&line);
            }
        }
        Ok(Reply::ok("SEARCH completed"))
    }

    /// COPY, and MOVE (RFC 6851) with `remove`.
    pub(super) async fn copy(
        &mut self,
        set: &SequenceSet,
        mailbox: &Mailbox<'_>,
        uid: bool,
        remove: bool,
    ) -> Result<Reply> {
        let verb = if remove { "MOVE" } else { "COPY" };
        if remove && self.selected.as_ref().is_some_and(|s| s.read_only) {
            return Ok(Reply::no("[READ-ONLY] Mailbox is read-only"));
        }
        let targets = match self.targets(set, uid).await? {
            Ok(targets) => targets,
            Err(reply) => return Ok(reply),
        };
        let Some(Found {
            info: to,
            delegation: to_delegation,
        }) = self.find_mailbox(mailbox).await?
        else {
            return Ok(Reply::no("[TRYCREATE] No such mailbox"));
        };
        if to_delegation.as_ref().is_some_and(|d| !d.write) {
            return Ok(Reply::no(READ_ONLY_GRANT));
        }
        let Some(from) = targets.first().map(|(_, m)| m.mailbox) else {
            return Ok(Reply::ok(format!("{verb} completed")));
        };
        let uids: Vec<u32> = targets.iter().map(|(_, m)| m.uid).collect();
        let size: u64 = targets.iter().map(|(_, m)| m.size).sum();
        // A move within one account takes no more room (deleting is a
        // move to Trash, and must work when the account is full).
        let same_account = self
            .selected
            .as_ref()
            .is_some_and(|s| s.mailbox.account == to.account);
        if !(remove && same_account) && self.over_quota(&to, size).await? {
            return Ok(Reply::no(OVER_QUOTA));
        }
        let mail = self.mail()?;
        let pairs = if remove {
            mail.move_messages(from, &uids, to.id).await?
        } else {
            mail.copy(from, &uids, to.id).await?
        };
        let from_delegation = self.selected.as_ref().and_then(|s| s.delegation.as_ref());
        self.record(from_delegation, from, &verb.to_ascii_lowercase(), &uids)
            .await;
        let added: Vec<u32> = pairs.iter().map(|p| p.1).collect();
        self.record(to_delegation.as_ref(), to.id, "add", &added)
            .await;
        // RFC 4315 §3: COPYUID; for MOVE untagged, before the expunges.
        // Both sets ascend, so they still pair up when compacted.
        let sources: Vec<u32> = pairs.iter().map(|p| p.0).collect();
        let code = format!(
            "[COPYUID {} {} {}]",
            to.uid_validity,
            sequence::compact(&sources),
            sequence::compact(&added)
        );
        Ok(if pairs.is_empty() {
            Reply::ok(format!("{verb} completed"))
        } else if remove {
            self.line(&format!("* OK {code} Moved"));
            Reply::ok("MOVE completed")
        } else {
            Reply::ok(format!("{code} COPY completed"))
        })
    }

    pub(super) async fn append(
        &mut self,
        mailbox: &Mailbox<'_>,
        flags: &[Flag<'_>],
        date: Option<chrono::DateTime<Utc>>,
        data: &[u8],
    ) -> Result<Reply> {
        let Some(Found { info, delegation }) = self.find_mailbox(mailbox).await? else {
            return Ok(Reply::no("[TRYCREATE] No such mailbox"));
        };
        if delegation.as_ref().is_some_and(|d| !d.write) {
            return Ok(Reply::no(READ_ONLY_GRANT));
        }
        if data.len() > usize::try_from(self.config().max_literal_size).unwrap_or(usize::MAX) {
            return Ok(Reply::no("[TOOBIG] Message too big"));
        }
        let Ok(flags) = flags_of(flags) else {
            return Ok(Reply::bad("Invalid flags"));
        };
        if self.over_quota(&info, data.len() as u64).await? {
            return Ok(Reply::no(OVER_QUOTA));
        }
        let uid = self
            .mail()?
            .append(info.id, bytes::Bytes::copy_from_slice(data), &flags, date)
            .await?;
        self.record(delegation.as_ref(), info.id, "append", &[uid])
            .await;
        Ok(Reply::ok(format!(
            "[APPENDUID {} {uid}] APPEND completed",
            info.uid_validity
        )))
    }

    pub(super) async fn expunge(&mut self, uids: Option<&SequenceSet>) -> Result<Reply> {
        let Some(selected) = &self.selected else {
            return Ok(Reply::bad("No mailbox selected"));
        };
        if selected.read_only {
            return Ok(Reply::no("[READ-ONLY] Mailbox is read-only"));
        }
        let only = match uids {
            Some(set) => match sequence::resolve(set, &selected.uids, true) {
                Ok(targets) => Some(targets.into_iter().map(|(_, uid)| uid).collect::<Vec<_>>()),
                Err(_) => return Ok(Reply::bad("Invalid UID set")),
            },
            None => None,
        };
        let id = selected.mailbox.id;
        let removed = self.mail()?.expunge(id, only.as_deref()).await?;
        let delegation = self.selected.as_ref().and_then(|s| s.delegation.as_ref());
        self.record(delegation, id, "expunge", &removed).await;
        // The expunges are told by the update that follows every command;
        // with QRESYNC the new HIGHESTMODSEQ goes with the answer (RFC
        // 7162 §3.2.10).
        if self.qresync {
            let highest = self.mail()?.mailbox(id).await?.highest_modseq.max(1);
            return Ok(Reply::ok(format!(
                "[HIGHESTMODSEQ {highest}] EXPUNGE completed"
            )));
        }
        Ok(Reply::ok("EXPUNGE completed"))
    }

    /// The messages `set` names in the selected mailbox, with their
    /// sequence numbers, as stored now.
    pub(super) async fn targets(
        &self,
        set: &SequenceSet,
        uid: bool,
    ) -> Result<std::result::Result<Vec<(u32, MessageMeta)>, Reply>> {
        let Some(selected) = &self.selected else {
            return Ok(Err(Reply::bad("No mailbox selected")));
        };
        let Ok(targets) = sequence::resolve(set, &selected.uids, uid) else {
            return Ok(Err(Reply::bad("Invalid message sequence number")));
        };
        let (Some(&(_, first)), Some(&(_, last))) = (targets.first(), targets.last()) else {
            return Ok(Ok(Vec::new()));
        };
        let mut stored: HashMap<u32, MessageMeta> = self
            .mail()?
            .messages(selected.mailbox.id, first..=last)
            .await?
            .into_iter()
            .map(|m| (m.uid, m))
            .collect();
        Ok(Ok(targets
            .into_iter()
            .filter_map(|(seq, uid)| stored.remove(&uid).map(|m| (seq, m)))
            .collect()))
    }

    pub(super) async fn fetch<S: AsyncWrite + Unpin>(
        &mut self,
        stream: &mut S,
        set: &SequenceSet,
        names: &MacroOrMessageDataItemNames<'_>,
        uid: bool,
        changed_since: Option<u64>,
    ) -> Result<Reply> {
        let mut plan = match Plan::new(names, uid) {
            Ok(plan) => plan,
            Err(why) => return Ok(Reply::bad(why)),
        };
        // RFC 7162 §3.1: CHANGEDSINCE and the MODSEQ item turn CONDSTORE on.
        self.condstore |= changed_since.is_some() || plan.asks_modseq();
        if self.condstore {
            plan.with_modseq();
        }
        let mut targets = match self.targets(set, uid).await? {
            Ok(targets) => targets,
            Err(reply) => return Ok(reply),
        };
        if let Some(since) = changed_since {
            targets.retain(|(_, m)| m.modseq > since);
        }
        let read_only = self.selected.as_ref().is_none_or(|s| s.read_only);
        if plan.sets_seen && !read_only {
            let unseen: Vec<u32> = targets
                .iter()
                .filter(|(_, m)| !m.flags.contains("\\Seen"))
                .map(|(_, m)| m.uid)
                .collect();
            if !unseen.is_empty() {
                let mailbox = targets.first().map(|(_, m)| m.mailbox).unwrap_or_default();
                let seen = Flags::new(["\\Seen"])?;
                self.dirty = true;
                let changed = self
                    .mail()?
                    .store_flags(mailbox, &unseen, FlagChange::Add, &seen, None)
                    .await?;
                let mut changed: HashMap<u32, MessageMeta> =
                    changed.into_iter().map(|m| (m.uid, m)).collect();
                for target in &mut targets {
                    if let Some(meta) = changed.remove(&target.1.uid) {
                        target.1 = meta;
                    }
                }
            }
        }
        for (seq, meta) in &targets {
            let raw = if plan.needs_body {
                match self.mail()?.raw(meta).await {
                    Ok(raw) => raw,
                    Err(e) => {
                        tracing::warn!(error = %e, uid = meta.uid, "message bytes missing");
                        continue;
                    }
                }
            } else {
                bytes::Bytes::new()
            };
            plan.render(&mut self.output, *seq, meta, &raw);
            if self.output.len() >= FLUSH_AT {
                self.flush(stream).await?;
            }
        }
        // Only what is done in another's mailbox is recorded.
        if let Some(selected) = self.selected.as_ref().filter(|s| s.delegation.is_some()) {
            let uids: Vec<u32> = targets.iter().map(|(_, m)| m.uid).collect();
            // Reading a message, or only what is known about it.
            let action = if plan.needs_body { "read" } else { "fetch" };
            let (delegation, id) = (selected.delegation.as_ref(), selected.mailbox.id);
            self.record(delegation, id, action, &uids).await;
        }
        Ok(Reply::ok("FETCH completed"))
    }

    pub(super) async fn store(
        &mut self,
        set: &SequenceSet,
        kind: StoreType,
        response: StoreResponse,
        flags: &[Flag<'_>],
        uid: bool,
        unchanged_since: Option<u64>,
    ) -> Result<Reply> {
        self.condstore |= unchanged_since.is_some();
        if self.selected.as_ref().is_some_and(|s| s.read_only) {
            return Ok(Reply::no("[READ-ONLY] Mailbox is read-only"));
        }
        let Ok(flags) = flags_of(flags) else {
            return Ok(Reply::bad("Invalid flags"));
        };
        let targets = match self.targets(set, uid).await? {
            Ok(targets) => targets,
            Err(reply) => return Ok(reply),
        };
        let Some(mailbox) = targets.first().map(|(_, m)| m.mailbox) else {
            return Ok(Reply::ok("STORE completed"));
        };
        let change = match kind {
            StoreType::Replace => FlagChange::Replace,
            StoreType::Add => FlagChange::Add,
            StoreType::Remove => FlagChange::Remove,
        };
        let uids: Vec<u32> = targets.iter().map(|(_, m)| m.uid).collect();
        let changed = self
            .mail()?
            .store_flags(mailbox, &uids, change, &flags, unchanged_since)
            .await?;
        if let Some(selected) = self.selected.as_ref().filter(|s| s.delegation.is_some()) {
            let uids: Vec<u32> = changed.iter().map(|m| m.uid).collect();
            self.record(selected.delegation.as_ref(), mailbox, "flags", &uids)
                .await;
        }
        // RFC 7162 §3.1.3: those changed since UNCHANGEDSINCE are left alone.
        let modified: Vec<String> = targets
            .iter()
            .filter(|(_, m)| unchanged_since.is_some_and(|since| m.modseq > since))
            .map(|(seq, m)| if uid { m.uid } else { *seq }.to_string())
            .collect();
        let mut changed: HashMap<u32, MessageMeta> =
            changed.into_iter().map(|m| (m.uid, m)).collect();
        let condstore = self.condstore;
        for (seq, meta) in targets {
            if unchanged_since.is_some_and(|since| meta.modseq > since) {
                continue;
            }
            let meta = changed.remove(&meta.uid).unwrap_or(meta);
            if let Some(selected) = &mut self.selected {
                selected.reported.insert(meta.uid, meta.modseq);
            }
            // RFC 7162 §3.1.3: with UNCHANGEDSINCE, also when .SILENT.
            if response == StoreResponse::Answer || unchanged_since.is_some() {
                let mut line = format!("* {seq} FETCH (FLAGS ").into_bytes();
                fetch::flag_list(&mut line, &meta);
                if uid {
                    line.extend_from_slice(format!(" UID {}", meta.uid).as_bytes());
                }
                if condstore {
                    line.extend_from_slice(format!(" MODSEQ ({})", meta.modseq.max(1)).as_bytes());
                }
                line.extend_from_slice(b")\r\n");
                self.output.extend_from_slice(&line);
            }
        }
        if modified.is_empty() {
            Ok(Reply::ok("STORE completed"))
        } else {
            Ok(Reply::ok(format!(
                "[MODIFIED {}] Conditional STORE failed for some",
                modified.join(",")
            )))
        }
    }

    pub(super) async fn select_with(
        &mut self,
        mailbox: &Mailbox<'_>,
        read_only: bool,
        parameters: &[SelectParameter],
    ) -> Result<Reply> {
        let mut resync = None;
        for parameter in parameters {
            match parameter {
                SelectParameter::CondStore => self.condstore = true,
                SelectParameter::QResync { .. } if !self.qresync => {
                    return Ok(Reply::bad("ENABLE QRESYNC first"));
                }
                SelectParameter::QResync {
                    uid_validity,
                    mod_sequence_value,
                    known_uids,
                    ..
                } => resync = Some((uid_validity.get(), mod_sequence_value.get(), known_uids)),
            }
        }
        let reply = self.select(mailbox, read_only).await?;
        // RFC 7162 §3.2.5.2: what changed since the client's last visit,
        // if its UIDs are still valid.
        if let Some((uid_validity, since, known)) = resync
            && let Some(selected) = &self.selected
            && selected.mailbox.uid_validity == uid_validity
        {
            self.vanished_earlier(since, known.as_ref()).await?;
            let condstore = self.condstore;
            if let (Some(selected), Some(user)) = (&self.selected, &self.user) {
                let changes = user.mail.changes_since(selected.mailbox.id, since).await?;
                let mut out = Vec::new();
                for meta in &changes.changed {
                    if let Ok(index) = selected.uids.binary_search(&meta.uid) {
                        out.extend_from_slice(
                            format!("* {} FETCH (UID {} FLAGS ", index + 1, meta.uid).as_bytes(),
                        );
                        fetch::flag_list(&mut out, meta);
                        if condstore {
                            out.extend_from_slice(
                                format!(" MODSEQ ({})", meta.modseq.max(1)).as_bytes(),
                            );
                        }
                        out.extend_from_slice(b")\r\n");
                    }
                }
                self.output.extend_from_slice(&out);
            }
        }
        Ok(reply)
    }

    /// `* VANISHED (EARLIER)` with the UIDs expunged from the selected
    /// mailbox after `since` (of `known`, if given).
    pub(super) async fn vanished_earlier(
        &mut self,
        since: u64,
        known: Option<&SequenceSet>,
    ) -> Result<()> {
        let (Some(selected), Some(user)) = (&self.selected, &self.user) else {
            return Ok(());
        };
        let changes = user.mail.changes_since(selected.mailbox.id, since).await?;
        let mut gone = changes.vanished;
        gone.sort_unstable();
        gone.dedup();
        if let Some(known) = known {
            gone.retain(|&uid| sequence::contains(known, uid, u32::MAX));
        }
        if !gone.is_empty() {
            let line = format!("* VANISHED (EARLIER) {}", sequence::compact(&gone));
            self.line(&line);
        }
        Ok(())
    }

    pub(super) async fn select(&mut self, mailbox: &Mailbox<'_>, read_only: bool) -> Result<Reply> {
        if self.selected.take().is_some() {
            // RFC 9051 §6.3.2: the old mailbox is closed first.
            self.line("* OK [CLOSED] Previous mailbox closed");
        }
        let Some(Found { info, delegation }) = self.find_mailbox(mailbox).await? else {
            return Ok(Reply::no("[NONEXISTENT] No such mailbox"));
        };
        // A deputy with a grant to read only gets the mailbox read-only.
        let examine = read_only;
        let read_only = read_only || delegation.as_ref().is_some_and(|d| !d.write);
        // Notices from before the read below are in what it reads.
        self.watch = Some(self.imap.inner.store.watch());
        (self.dirty, self.synced_at) = (false, tokio::time::Instant::now());
        let messages = self.mail()?.messages(info.id, 1..=u32::MAX).await?;
        let uids: Vec<u32> = messages.iter().map(|m| m.uid).collect();
        let first_unseen = messages
            .iter()
            .position(|m| !m.flags.contains("\\Seen"))
            .map(|i| i + 1);
        self.line(&format!("* {} EXISTS", uids.len()));
        if self.rev2 {
            // RFC 9051 §6.3.2: the mailbox's LIST response.
            let found = Found {
                info: info.clone(),
                delegation: delegation.clone(),
            };
            let use_ = match (&found.delegation, info.role) {
                (None, Some(role)) if role != Role::Inbox => special_use(role),
                _ => None,
            };
            let mut line =
                format!("* LIST ({}) \"{DELIMITER}\" ", use_.unwrap_or_default()).into_bytes();
            fetch::string(&mut line, &self.external(&found.visible()));
            line.extend_from_slice(b"\r\n");
            self.output.extend_from_slice(&line);
        } else {
            self.line("* 0 RECENT");
        }
        self.line("* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)");
        if read_only {
            self.line("* OK [PERMANENTFLAGS ()] Read-only");
        } else {
            self.line(
                "* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft \\*)] Flags allowed",
            );
        }
        if let Some(seq) = first_unseen {
            self.line(&format!("* OK [UNSEEN {seq}] First unseen"));
        }
        self.line(&format!(
            "* OK [UIDVALIDITY {}] UIDs valid",
            info.uid_validity
        ));
        self.line(&format!(
            "* OK [UIDNEXT {}] Predicted next UID",
            info.uid_next
        ));
        self.line(&format!(
            "* OK [HIGHESTMODSEQ {}] Highest",
            info.highest_modseq.max(1)
        ));
        let modseq = info.highest_modseq;
        let action = if read_only { "examine" } else { "select" };
        self.record(delegation.as_ref(), info.id, action, &[]).await;
        self.selected = Some(Selected {
            mailbox: info,
            delegation,
            read_only,
            uids,
            modseq,
            vanished: BTreeSet::new(),
            reported: HashMap::new(),
            saved: Vec::new(),
        });
        let verb = if examine { "EXAMINE" } else { "SELECT" };
        Ok(if read_only {
            Reply::ok(format!("[READ-ONLY] {verb} completed"))
        } else {
            Reply::ok("[READ-WRITE] SELECT completed")
        })
    }

    /// Whether an update must read the selected mailbox: it changed (a
    /// notice says so, or this session changed it), expunges wait to be
    /// told, or it was not read for `SYNC_AT_LEAST`.
    pub(super) fn sync_due(&mut self, expunges_allowed: bool) -> bool {
        let Some(selected) = &self.selected else {
            return false;
        };
        let mut due = self.dirty
            || self.synced_at.elapsed() >= SYNC_AT_LEAST
            || (expunges_allowed && !selected.vanished.is_empty());
        let Some(watch) = &mut self.watch else {
            return true;
        };
        loop {
            match watch.try_recv() {
                Ok(change) => due |= change.mailbox == selected.mailbox.id,
                Err(broadcast::error::TryRecvError::Empty) => break,
                // Missed notices, or no store: look.
                Err(_) => {
                    due = true;
                    break;
                }
            }
        }
        due
    }

    /// Whether the grant behind the selected mailbox, if it is another
    /// account's, still holds as it did at SELECT (asked again now).
    pub(super) async fn grant_holds(&self) -> Result<bool> {
        let Some(selected) = &self.selected else {
            return Ok(true);
        };
        let Some(granted) = &selected.delegation else {
            return Ok(true);
        };
        let now = self.delegation(granted.namespace(), &granted.label).await?;
        Ok(now
            .is_some_and(|now| now.account == granted.account && (now.write || selected.read_only)))
    }

    /// Ends the session when the grant behind the selected mailbox was
    /// withdrawn; whether it was.
    pub(super) async fn withdrawn(&mut self) -> Result<bool> {
        if self.grant_holds().await? {
            return Ok(false);
        }
        self.selected = None;
        self.line("* BYE Your access to this mailbox was withdrawn");
        self.logout = true;
        Ok(true)
    }

    /// Tells the client what changed in the selected mailbox since it
    /// last heard: new messages (EXISTS), flags (FETCH) and, where
    /// allowed, expunges (EXPUNGE).
    pub(super) async fn sync(&mut self, expunges_allowed: bool) -> Result<()> {
        if self.withdrawn().await? || !self.sync_due(expunges_allowed) {
            return Ok(());
        }
        (self.dirty, self.synced_at) = (false, tokio::time::Instant::now());
        let (condstore, qresync) = (self.condstore, self.qresync);
        let (Some(selected), Some(user)) = (&mut self.selected, &self.user) else {
            return Ok(());
        };
        let info = user.mail.mailbox(selected.mailbox.id).await?;
        let mut out = Vec::new();
        if info.highest_modseq != selected.modseq {
            let changes = user
                .mail
                .changes_since(selected.mailbox.id, selected.modseq)
                .await?;
            selected.modseq = info.highest_modseq;
            let known: BTreeSet<u32> = selected.uids.iter().copied().collect();
            selected
                .vanished
                .extend(changes.vanished.iter().filter(|u| known.contains(u)));
            let last = selected.uids.last().copied().unwrap_or(0);
            let gone: BTreeSet<u32> = changes.vanished.iter().copied().collect();
            let mut new: Vec<u32> = changes
                .changed
                .iter()
                .map(|m| m.uid)
                .filter(|u| *u > last && !gone.contains(u))
                .collect();
            new.sort_unstable();
            new.dedup();
            for meta in &changes.changed {
                if meta.uid > last || selected.vanished.contains(&meta.uid) {
                    continue;
                }
                if selected.reported.get(&meta.uid) == Some(&meta.modseq) {
                    continue;
                }
                if let Ok(index) = selected.uids.binary_search(&meta.uid) {
                    out.extend_from_slice(format!("* {} FETCH (FLAGS ", index + 1).as_bytes());
                    fetch::flag_list(&mut out, meta);
                    out.extend_from_slice(format!(" UID {}", meta.uid).as_bytes());
                    if condstore {
                        out.extend_from_slice(
                            format!(" MODSEQ ({})", meta.modseq.max(1)).as_bytes(),
                        );
                    }
                    out.extend_from_slice(b")\r\n");
                }
            }
            if !new.is_empty() {
                selected.uids.extend(new);
                out.extend_from_slice(format!("* {} EXISTS\r\n", selected.uids.len()).as_bytes());
            }
        }
        if expunges_allowed {
            let mut gone = Vec::new();
            for uid in std::mem::take(&mut selected.vanished) {
                if let Ok(index) = selected.uids.binary_search(&uid) {
                    selected.uids.remove(index);
                    gone.push(uid);
                    if !qresync {
                        out.extend_from_slice(format!("* {} EXPUNGE\r\n", index + 1).as_bytes());
                    }
                }
            }
            // RFC 7162 §3.2.10: with QRESYNC, VANISHED instead of EXPUNGE.
            if qresync && !gone.is_empty() {
                let line = format!("* VANISHED {}\r\n", sequence::compact(&gone));
                out.extend_from_slice(line.as_bytes());
            }
        }
        selected.reported.clear();
        selected.mailbox = info;
        self.output.extend_from_slice(&out);
        Ok(())
    }
}

/// The store's flags of a command's flag list.
fn flags_of(flags: &[Flag<'_>]) -> Result<Flags> {
    let names: Vec<String> = flags.iter().map(ToString::to_string).collect();
    Flags::new(names.iter().map(String::as_str))
}
