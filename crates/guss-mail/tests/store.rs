//! The mail store on SQLite and PostgreSQL: special-use mailboxes, atomic
//! delivery to several accounts, UIDs and MODSEQ, flags, copy, move,
//! expunge with content cleanup, threads, aliases and shared accounts,
//! tenant isolation.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::sync::Arc;

use guss_core::{MemoryEventSink, PersonId, SystemClock, TenantId};
use guss_mail::Error;
use guss_mail::store::{Account, FlagChange, Flags, MailStore, Role};
use guss_testkit::{Backend, TestDb, backend_tests};

async fn store(db: &TestDb) -> (MailStore, Arc<MemoryEventSink>) {
    store_with_clock(db, Arc::new(SystemClock)).await
}

async fn store_with_clock(
    db: &TestDb,
    clock: Arc<dyn guss_core::Clock>,
) -> (MailStore, Arc<MemoryEventSink>) {
    let dir = db.dir().map(|d| d.to_path_buf()).unwrap_or_else(|| {
        std::env::temp_dir().join(format!("guss-mail-store-{}", TenantId::new()))
    });
    let location = match db.backend() {
        Backend::Sqlite => dir.join("mail").display().to_string(),
        Backend::Postgres => db.url().to_owned(),
    };
    let blobs = Arc::new(
        guss_blob::LocalBlobStore::open(&dir.join("blobs"))
            .await
            .unwrap(),
    );
    let events = Arc::new(MemoryEventSink::new());
    (
        MailStore::open(&location, blobs, clock, events.clone())
            .await
            .unwrap(),
        events,
    )
}

fn message(id: &str, extra: &str) -> bytes::Bytes {
    format!("From: Ben <ben@example.test>\r\nTo: anna@kanzlei.example\r\nSubject: Akte {id}\r\nMessage-ID: <{id}@example.test>\r\n{extra}\r\nText {id}\r\n.\r\n")
        .into_bytes()
        .into()
}

backend_tests! {
    async fn accounts_have_special_use_mailboxes(db: TestDb) {
        let (store, _) = store(&db).await;
        let mail = store.tenant(TenantId::new());
        let anna = Account::Person(PersonId::new());
        let boxes = mail.mailboxes(&anna).await.unwrap();
        let roles: Vec<_> = boxes.iter().filter_map(|b| b.role).collect();
        for role in Role::ALL {
            assert!(roles.contains(&role), "{role:?}");
        }
        assert_eq!(mail.mailboxes(&anna).await.unwrap().len(), 6, "made once");
        let inbox = mail.mailbox_by_role(&anna, Role::Inbox).await.unwrap();
        assert_eq!(inbox.name, "INBOX");
        assert!(inbox.uid_validity > 0);
        let akten = mail.create_mailbox(&anna, "Akten/2026").await.unwrap();
        assert!(matches!(mail.create_mailbox(&anna, "Akten/2026").await, Err(Error::Conflict(_))));
        assert!(mail.create_mailbox(&anna, "inbox").await.is_err());
        assert!(mail.create_mailbox(&anna, "a//b").await.is_err());
        mail.rename_mailbox(akten.id, "Archiv/Akten/2027").await.unwrap();
        let boxes = mail.mailboxes(&anna).await.unwrap();
        for parent in ["Archiv", "Archiv/Akten"] {
            assert!(boxes.iter().any(|b| b.name == parent), "{parent} made");
        }
        mail.rename_mailbox(akten.id, "Akten/2027").await.unwrap();
        assert!(mail.rename_mailbox(inbox.id, "Eingang").await.is_err());
        assert!(mail.delete_mailbox(inbox.id).await.is_err(), "special use stays");
        // The parent was made with it, and cannot go before its child.
        let boxes = mail.mailboxes(&anna).await.unwrap();
        let parent = boxes.iter().find(|b| b.name == "Akten").expect("parent made").id;
        assert!(boxes.iter().any(|b| b.name == "Akten/2027"), "renamed");
        assert!(matches!(mail.delete_mailbox(parent).await, Err(Error::Conflict(_))));
        mail.delete_mailbox(akten.id).await.unwrap();
        mail.delete_mailbox(parent).await.unwrap();
        for name in ["Archiv/Akten", "Archiv"] {
            let id = mail.mailboxes(&anna).await.unwrap().into_iter().find(|b| b.name == name).unwrap().id;
            mail.delete_mailbox(id).await.unwrap();
        }
        assert_eq!(mail.mailboxes(&anna).await.unwrap().len(), 6);
    }

    async fn delivery_is_atomic_and_counted(db: TestDb) {
        let (store, events) = store(&db).await;
        let mail = store.tenant(TenantId::new());
        let (anna, ben) = (Account::Person(PersonId::new()), Account::Person(PersonId::new()));
        let raw = message("1", "");
        let placed = mail.deliver(&[(anna.clone(), Role::Inbox), (ben.clone(), Role::Inbox)], raw.clone()).await.unwrap();
        assert_eq!(placed.len(), 2);
        assert_eq!(placed[0].1, 1);
        assert_eq!(events.events().len(), 2, "one received event per copy");
        let inbox = mail.mailbox_by_role(&anna, Role::Inbox).await.unwrap();
        assert_eq!(inbox.uid_next, 2);
        let listed = mail.messages(inbox.id, 1..=u32::MAX).await.unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(mail.raw(&listed[0]).await.unwrap(), raw, "bytes intact");
        assert_eq!(listed[0].subject.as_deref(), Some("Akte 1"));
        assert_eq!(listed[0].from.as_deref(), Some("ben@example.test"));
        assert_eq!(mail.counts(inbox.id).await.unwrap(), (1, 1));
        // Too big: refused, nothing stored.
        let huge = bytes::Bytes::from(vec![b'a'; 50 * 1024 * 1024 + 1]);
        assert!(matches!(mail.deliver(&[(anna.clone(), Role::Inbox)], huge).await, Err(Error::LimitExceeded { .. })));
        assert_eq!(mail.messages(inbox.id, 1..=u32::MAX).await.unwrap().len(), 1);
    }

    async fn flags_modseq_copy_move_expunge(db: TestDb) {
        let (store, _) = store(&db).await;
        let mail = store.tenant(TenantId::new());
        let anna = Account::Person(PersonId::new());
        for i in 1..=3 {
            mail.deliver(&[(anna.clone(), Role::Inbox)], message(&i.to_string(), "")).await.unwrap();
        }
        let inbox = mail.mailbox_by_role(&anna, Role::Inbox).await.unwrap();
        let before = inbox.highest_modseq;
        let seen = Flags::new(["\\seen", "$Forwarded"]).unwrap();
        assert!(seen.contains("\\Seen"), "system flags are canonical");
        assert!(Flags::new(["bad flag"]).is_err());
        let changed = mail.store_flags(inbox.id, &[1, 2], FlagChange::Add, &seen, None).await.unwrap();
        assert_eq!(changed.len(), 2);
        assert!(changed.iter().all(|m| m.modseq > before && m.flags.contains("$Forwarded")));
        // CONDSTORE: a stale UNCHANGEDSINCE skips the message.
        let stale = mail.store_flags(inbox.id, &[1], FlagChange::Remove, &seen, Some(before)).await.unwrap();
        assert!(stale.is_empty());
        assert_eq!(mail.counts(inbox.id).await.unwrap(), (3, 1));
        let changes = mail.changes_since(inbox.id, before).await.unwrap();
        assert_eq!(changes.changed.iter().map(|m| m.uid).collect::<Vec<_>>(), [1, 2]);

        let archive = mail.mailbox_by_role(&anna, Role::Archive).await.unwrap();
        let copied = mail.copy(inbox.id, &[1], archive.id).await.unwrap();
        assert_eq!(copied, [(1, 1)]);
        let moved = mail.move_messages(inbox.id, &[2], archive.id).await.unwrap();
        assert_eq!(moved, [(2, 2)]);
        let archived = mail.messages(archive.id, 1..=u32::MAX).await.unwrap();
        assert_eq!(archived.len(), 2);
        assert!(archived[0].flags.contains("\\Seen"), "flags travel with a copy");
        let after_move = mail.changes_since(inbox.id, before).await.unwrap();
        assert_eq!(after_move.vanished, [2]);

        // Expunge removes only \Deleted messages; content shared with the
        // archive copy stays readable.
        mail.store_flags(inbox.id, &[1], FlagChange::Add, &Flags::new(["\\Deleted"]).unwrap(), None).await.unwrap();
        assert_eq!(mail.expunge(inbox.id, None).await.unwrap(), [1]);
        assert_eq!(mail.messages(inbox.id, 1..=u32::MAX).await.unwrap().len(), 1);
        assert!(mail.raw(&archived[0]).await.is_ok(), "the copy keeps its bytes");
        mail.store_flags(archive.id, &[1], FlagChange::Add, &Flags::new(["\\Deleted"]).unwrap(), None).await.unwrap();
        assert_eq!(mail.expunge(archive.id, Some(&[1])).await.unwrap(), [1]);
        assert!(matches!(mail.raw(&archived[0]).await, Err(Error::NotFound(_))), "unused content is deleted");
    }

    async fn replies_share_a_thread(db: TestDb) {
        let (store, _) = store(&db).await;
        let mail = store.tenant(TenantId::new());
        let anna = Account::Person(PersonId::new());
        mail.deliver(&[(anna.clone(), Role::Inbox)], message("a", "")).await.unwrap();
        mail.deliver(&[(anna.clone(), Role::Inbox)], message("b", "In-Reply-To: <a@example.test>\r\n")).await.unwrap();
        mail.deliver(&[(anna.clone(), Role::Inbox)], message("c", "References: <a@example.test> <b@example.test>\r\n")).await.unwrap();
        mail.deliver(&[(anna.clone(), Role::Inbox)], message("d", "")).await.unwrap();
        let inbox = mail.mailbox_by_role(&anna, Role::Inbox).await.unwrap();
        let listed = mail.messages(inbox.id, 1..=u32::MAX).await.unwrap();
        assert_eq!(listed[0].thread_id, listed[1].thread_id);
        assert_eq!(listed[0].thread_id, listed[2].thread_id);
        assert_ne!(listed[0].thread_id, listed[3].thread_id);
    }

    async fn aliases_and_shared_accounts(db: TestDb) {
        let (store, _) = store(&db).await;
        let tenant = TenantId::new();
        let mail = store.tenant(tenant);
        let anna = Account::Person(PersonId::new());
        mail.add_alias("Info@Kanzlei.example", &anna).await.unwrap();
        assert_eq!(mail.resolve_alias("info@kanzlei.example").await.unwrap(), Some(anna.clone()));
        assert!(matches!(mail.add_alias("info@kanzlei.example", &anna).await, Err(Error::Conflict(_))));
        let shared = mail.create_shared("kanzlei", "Kanzlei", "kanzlei@kanzlei.example").await.unwrap();
        assert_eq!(mail.resolve_alias("kanzlei@kanzlei.example").await.unwrap(), Some(shared.clone()));
        assert_eq!(mail.shared_accounts().await.unwrap(), [("kanzlei".to_owned(), "Kanzlei".to_owned())]);
        assert_eq!(mail.mailboxes(&shared).await.unwrap().len(), 6);
        assert!(mail.create_shared("Bad Name", "x", "x@kanzlei.example").await.is_err());
        assert!(mail.remove_alias("info@kanzlei.example").await.unwrap());
        assert_eq!(mail.resolve_alias("info@kanzlei.example").await.unwrap(), None);
        // Another tenant sees none of it.
        let other = store.tenant(TenantId::new());
        assert_eq!(other.resolve_alias("kanzlei@kanzlei.example").await.unwrap(), None);
        let inbox = mail.mailbox_by_role(&shared, Role::Inbox).await.unwrap();
        assert!(matches!(other.mailbox(inbox.id).await, Err(Error::NotFound(_))));
    }

    async fn dkim_keys_are_made_once_and_rotated_with_overlap(db: TestDb) {
        use chrono::{TimeDelta, TimeZone, Utc};
        let clock = Arc::new(guss_core::FixedClock::new(Utc.with_ymd_and_hms(2026, 11, 28, 9, 0, 0).unwrap()));
        let (store, _) = store_with_clock(&db, clock.clone()).await;
        let mail = store.tenant(TenantId::new());
        let first = mail.dkim_keys("Kanzlei.example").await.unwrap();
        assert_eq!(first.signing.len(), 2, "Ed25519 and RSA");
        let selectors = |k: &[guss_mail::dkim::DkimKey]| k.iter().map(|k| k.selector().to_owned()).collect::<Vec<_>>();
        assert_eq!(selectors(&first.signing), ["guss-ed-202611", "guss-rsa-202611"]);
        assert_eq!(selectors(&mail.dkim_keys("kanzlei.example").await.unwrap().signing), selectors(&first.signing), "made once");

        // Seven months on, successors are made and published, but the old
        // keys sign until the new ones have been in DNS for two days.
        clock.advance(TimeDelta::days(210));
        let plan = mail.rotate_dkim("kanzlei.example", &Default::default()).await.unwrap();
        assert_eq!(plan.generate.len(), 2);
        let during = mail.dkim_keys("kanzlei.example").await.unwrap();
        assert_eq!(selectors(&during.signing), selectors(&first.signing));
        assert_eq!(during.published().count(), 4);

        clock.advance(TimeDelta::days(3));
        mail.rotate_dkim("kanzlei.example", &Default::default()).await.unwrap();
        let after = mail.dkim_keys("kanzlei.example").await.unwrap();
        assert_eq!(selectors(&after.signing), ["guss-ed-202706", "guss-rsa-202706"]);
        assert_eq!(selectors(&after.superseded).len(), 2, "still published for mail in flight");

        clock.advance(TimeDelta::days(10));
        mail.rotate_dkim("kanzlei.example", &Default::default()).await.unwrap();
        let later = mail.dkim_keys("kanzlei.example").await.unwrap();
        assert_eq!(later.published().count(), 2, "the old records go");
    }

    async fn first_deliveries_to_a_new_person_may_race(db: TestDb) {
        let (store, _) = store(&db).await;
        let mail = store.tenant(TenantId::new());
        let bob = Account::Person(PersonId::new());
        let deliveries = (0..10).map(|i| {
            let (mail, bob) = (mail.clone(), bob.clone());
            tokio::spawn(async move { mail.deliver(&[(bob, Role::Inbox)], message(&i.to_string(), "")).await })
        });
        for done in futures::future::join_all(deliveries).await {
            done.unwrap().unwrap();
        }
        assert_eq!(mail.mailboxes(&bob).await.unwrap().len(), 6);
        let inbox = mail.mailbox_by_role(&bob, Role::Inbox).await.unwrap();
        let uids: Vec<u32> = mail.messages(inbox.id, 1..=u32::MAX).await.unwrap().iter().map(|m| m.uid).collect();
        assert_eq!(uids, (1..=10).collect::<Vec<_>>(), "every UID once");
    }

    async fn changes_are_announced_to_watchers_also_of_other_processes(db: TestDb) {
        // Two stores on the same data stand for two processes (on SQLite,
        // only changes through the same store are announced).
        let (other, _) = store(&db).await;
        let (store, _) = store(&db).await;
        let tenant = TenantId::new();
        let anna = Account::Person(PersonId::new());
        let mail = store.tenant(tenant);
        mail.deliver(&[(anna.clone(), Role::Inbox)], message("1", "")).await.unwrap();
        let inbox = mail.mailbox_by_role(&anna, Role::Inbox).await.unwrap();
        let mut here = store.watch();
        let mut there = other.watch();
        let next = |watch: &mut tokio::sync::broadcast::Receiver<guss_mail::store::MailboxChanged>| {
            let mut watch = watch.resubscribe();
            async move {
                tokio::time::timeout(std::time::Duration::from_secs(10), async {
                    loop {
                        let change = watch.recv().await.unwrap();
                        if change.mailbox == inbox.id {
                            return change;
                        }
                    }
                })
                .await
                .expect("the change is announced")
            }
        };
        // A store on PostgreSQL hears changes, also its own, through a
        // listener that connects in the background: change the flag until
        // the watcher hears of one (at most ten seconds).
        let mut seen = FlagChange::Remove;
        let mut heard = async |watch: &mut tokio::sync::broadcast::Receiver<guss_mail::store::MailboxChanged>| {
            for _ in 0..20 {
                let change = tokio::time::timeout(std::time::Duration::from_millis(500), next(watch));
                seen = if seen == FlagChange::Add { FlagChange::Remove } else { FlagChange::Add };
                mail.store_flags(inbox.id, &[1], seen, &Flags::new(["\\Seen"]).unwrap(), None).await.unwrap();
                if let Ok(change) = change.await {
                    return Some(change);
                }
            }
            None
        };
        assert_eq!(heard(&mut here).await.expect("announced").tenant, tenant);
        if db.backend() == Backend::Postgres {
            assert_eq!(heard(&mut there).await.expect("announced").mailbox, inbox.id, "through LISTEN/NOTIFY");
        }
    }
}
