//! End-to-end identity flows with software passkeys, on SQLite and on
//! PostgreSQL: every step goes through real WebAuthn ceremonies.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{TimeDelta, TimeZone, Utc};
use guss_core::{
    Action, Authenticator as _, Authorizer, Context, Credentials, Decision, Directory as _,
    DirectoryEntry, FixedClock, MemoryEventSink, PersonStatus, Principal, Resource, Scope,
    TenantId,
};
use guss_identity::store::{IdentityStore as _, SqlStore, TenantRegistry as _};
use guss_identity::webauthn::Url;
use guss_identity::{
    AuthMethod, Client, Error, Finding, Identity, RelyingParty, Role, Session, SignedIn,
};
use guss_testkit::{Backend, TestDb, backend_tests};
use webauthn_authenticator_rs::WebauthnAuthenticator as _;
use webauthn_authenticator_rs::softpasskey::SoftPasskey;

/// Admins (owner or admin role) may administer their own tenant; nothing else.
struct AdminsMay(SqlStore);

#[async_trait]
impl Authorizer for AdminsMay {
    async fn authorize(
        &self,
        principal: &Principal,
        action: &Action,
        resource: &Resource,
        _: &Context,
    ) -> Decision {
        let Principal::Person { tenant, person } = principal else {
            return Decision::Deny;
        };
        if *tenant != resource.tenant() || *action != Action::ADMINISTER {
            return Decision::Deny;
        }
        match self.0.scoped(*tenant).await.unwrap().person(*person).await {
            Ok(Some(p)) if p.is_admin() => Decision::Allow,
            _ => Decision::Deny,
        }
    }
}

struct World {
    identity: Identity<SqlStore>,
    clock: Arc<FixedClock>,
    events: Arc<MemoryEventSink>,
    origin: Url,
}

async fn world(db: &TestDb) -> World {
    let location = match db.backend() {
        Backend::Sqlite => db.dir().unwrap().join("identity").display().to_string(),
        Backend::Postgres => db.url().to_owned(),
    };
    let store = SqlStore::open(&location).await.unwrap();
    let clock = Arc::new(FixedClock::new(
        Utc.with_ymd_and_hms(2026, 11, 28, 9, 0, 0).unwrap(),
    ));
    let events = Arc::new(MemoryEventSink::new());
    let identity = Identity::new(
        store.clone(),
        clock.clone(),
        events.clone(),
        Arc::new(AdminsMay(store)),
    );
    World {
        identity,
        clock,
        events,
        origin: Url::parse("https://kanzlei.example").unwrap(),
    }
}

fn client() -> Client {
    Client::new(Some("192.0.2.7".parse().unwrap()), "test browser")
}

fn rp() -> RelyingParty {
    RelyingParty::new("kanzlei.example", ["https://kanzlei.example"]).unwrap()
}

impl World {
    async fn enroll(
        &self,
        tenant: TenantId,
        token: &str,
        device: &mut SoftPasskey,
    ) -> Result<SignedIn, Error> {
        let challenge = self
            .identity
            .start_enrollment(tenant, token, "Laptop", &client())
            .await?;
        let credential = device
            .do_registration(self.origin.clone(), challenge.options)
            .unwrap();
        self.identity
            .finish_enrollment(tenant, &challenge.ceremony, &credential, &client())
            .await
    }

    async fn sign_in(
        &self,
        tenant: TenantId,
        email: &str,
        device: &mut SoftPasskey,
    ) -> Result<Session, Error> {
        let challenge = self
            .identity
            .start_sign_in(tenant, Some(&email.parse().unwrap()))
            .await?;
        let credential = device
            .do_authentication(self.origin.clone(), challenge.options)
            .map_err(|_| Error::Unauthenticated)?;
        let signed_in = self
            .identity
            .finish_sign_in(tenant, &challenge.ceremony, &credential, &client())
            .await?;
        self.identity.session(tenant, &signed_in.token).await
    }

    async fn step_up(&self, session: &Session, device: &mut SoftPasskey) -> Session {
        let challenge = self.identity.start_step_up(session).await.unwrap();
        let credential = device
            .do_authentication(self.origin.clone(), challenge.options)
            .unwrap();
        self.identity
            .finish_step_up(session, &challenge.ceremony, &credential)
            .await
            .unwrap()
    }

    /// A tenant whose owner Anna has enrolled and signed in with a passkey.
    async fn office(&self) -> (TenantId, Session, SoftPasskey) {
        let (tenant, setup) = self
            .identity
            .create_tenant(
                "Kanzlei Schmidt",
                rp(),
                "Anna Schmidt",
                "anna@kanzlei.example".parse().unwrap(),
            )
            .await
            .unwrap();
        let mut anna = SoftPasskey::new(true);
        self.enroll(tenant.id, &setup.token, &mut anna)
            .await
            .unwrap();
        let session = self
            .sign_in(tenant.id, "anna@kanzlei.example", &mut anna)
            .await
            .unwrap();
        (tenant.id, session, anna)
    }

    async fn invite(
        &self,
        admin: &Session,
        email: &str,
        name: &str,
        device: &mut SoftPasskey,
    ) -> Session {
        let link = self
            .identity
            .invite(admin, email.parse().unwrap(), name, &[Role::MEMBER])
            .await
            .unwrap();
        self.enroll(admin.tenant, &link.token, device)
            .await
            .unwrap();
        self.sign_in(admin.tenant, email, device).await.unwrap()
    }
}

backend_tests! {
    async fn owner_enrols_signs_in_and_replays_fail(db: TestDb) {
        let w = world(&db).await;
        let (tenant, setup) = w
            .identity
            .create_tenant("Kanzlei Schmidt", rp(), "Anna Schmidt", "anna@kanzlei.example".parse().unwrap())
            .await
            .unwrap();
        let mut anna = SoftPasskey::new(true);

        // Enrolment through the setup link signs Anna in, but is no passkey confirmation.
        let challenge = w.identity.start_enrollment(tenant.id, &setup.token, "Laptop", &client()).await.unwrap();
        let credential = anna.do_registration(w.origin.clone(), challenge.options).unwrap();
        let signed_in = w.identity.finish_enrollment(tenant.id, &challenge.ceremony, &credential, &client()).await.unwrap();
        assert_eq!(signed_in.display_name, "Anna Schmidt");
        assert_eq!(signed_in.session.method, AuthMethod::Invitation);
        let session = w.identity.session(tenant.id, &signed_in.token).await.unwrap();
        assert!(matches!(w.identity.require_step_up(&session), Err(Error::StepUpRequired)));

        // The ceremony state and the link are single-use.
        let replay = w.identity.finish_enrollment(tenant.id, &challenge.ceremony, &credential, &client()).await;
        assert!(matches!(replay, Err(Error::NotFound { .. })), "{replay:?}");
        let reuse = w.identity.start_enrollment(tenant.id, &setup.token, "Again", &client()).await;
        assert!(matches!(reuse, Err(Error::NotFound { .. })), "{reuse:?}");

        // Signing in with the passkey yields a stepped-up session.
        let session = w.sign_in(tenant.id, "anna@kanzlei.example", &mut anna).await.unwrap();
        assert_eq!(session.info.method, AuthMethod::Passkey);
        assert!(w.identity.require_step_up(&session).is_ok());
        w.clock.advance(TimeDelta::minutes(6));
        assert!(matches!(w.identity.require_step_up(&session), Err(Error::StepUpRequired)));

        // A sign-in assertion cannot be replayed either.
        let challenge = w.identity.start_sign_in(tenant.id, Some(&"anna@kanzlei.example".parse().unwrap())).await.unwrap();
        let assertion = anna.do_authentication(w.origin.clone(), challenge.options).unwrap();
        w.identity.finish_sign_in(tenant.id, &challenge.ceremony, &assertion, &client()).await.unwrap();
        let replay = w.identity.finish_sign_in(tenant.id, &challenge.ceremony, &assertion, &client()).await;
        assert!(matches!(replay, Err(Error::NotFound { .. })));

        // The owner is an owner, with one passkey and no trustees yet.
        let people = w.identity.people(&session).await.unwrap();
        assert_eq!(people.len(), 1);
        assert!(people[0].has_role(&Role::OWNER));
        let findings = w.identity.continuity(tenant.id).await.unwrap();
        assert!(findings.contains(&Finding::TooFewAdmins { count: 1 }));
        assert!(findings.contains(&Finding::NoTrustees));
        assert!(findings.contains(&Finding::SinglePasskey { person: people[0].id, count: 1 }));

        // Adding the office's own domain as an origin keeps the passkeys working.
        let moved = RelyingParty::new("kanzlei.example", ["https://kanzlei.example", "https://login.kanzlei.example"]).unwrap();
        let member = w.identity.invite(&session, "zoe@kanzlei.example".parse().unwrap(), "Zoe", &[]).await;
        assert!(matches!(member, Err(Error::StepUpRequired)), "the step-up above has expired");
        let session = w.sign_in(tenant.id, "anna@kanzlei.example", &mut anna).await.unwrap();
        w.identity.set_relying_party(&session, moved).await.unwrap();
        assert!(w.sign_in(tenant.id, "anna@kanzlei.example", &mut anna).await.is_ok());

        let types = w.events.types();
        for expected in ["guss.identity.tenant.created", "guss.identity.invitation.used", "guss.identity.passkey.added", "guss.identity.sign_in.succeeded"] {
            assert!(types.iter().any(|t| t == expected), "{expected} missing from {types:?}");
        }
    }

    async fn wrong_origin_and_foreign_passkeys_change_nothing(db: TestDb) {
        let w = world(&db).await;
        let (tenant, anna, mut anna_device) = w.office().await;
        // A passkey that was never registered here cannot even answer.
        let mut stranger = SoftPasskey::new(true);
        assert!(w.sign_in(tenant, "anna@kanzlei.example", &mut stranger).await.is_err());
        // A genuine assertion for one challenge does not open another ceremony.
        let email = "anna@kanzlei.example".parse().unwrap();
        let first = w.identity.start_sign_in(tenant, Some(&email)).await.unwrap();
        let second = w.identity.start_sign_in(tenant, Some(&email)).await.unwrap();
        let assertion = anna_device.do_authentication(w.origin.clone(), first.options).unwrap();
        let crossed = w.identity.finish_sign_in(tenant, &second.ceremony, &assertion, &client()).await;
        assert!(matches!(crossed, Err(Error::Unauthenticated)), "{crossed:?}");
        assert!(w.events.types().iter().any(|t| t == "guss.identity.sign_in.failed"));

        // A registration made on another origin is refused, and the link stays usable.
        let link = w.identity.invite(&anna, "ben@kanzlei.example".parse().unwrap(), "Ben", &[]).await.unwrap();
        let mut ben = SoftPasskey::new(true);
        let challenge = w.identity.start_enrollment(tenant, &link.token, "Laptop", &client()).await.unwrap();
        // A look-alike site relays the real challenge under its own name.
        let mut relayed = challenge.options.clone();
        relayed.public_key.rp.id = "kanzlei-login.example".to_owned();
        let phished = ben.do_registration(Url::parse("https://kanzlei-login.example").unwrap(), relayed).unwrap();
        let refused = w.identity.finish_enrollment(tenant, &challenge.ceremony, &phished, &client()).await;
        assert!(matches!(refused, Err(Error::Invalid { .. })), "{refused:?}");
        let store = w.identity.store().scoped(tenant).await.unwrap();
        assert!(store.passkeys_of(link.person).await.unwrap().is_empty());
        w.enroll(tenant, &link.token, &mut ben).await.unwrap();

        // Malformed client JSON is a clear error.
        assert!(matches!(guss_identity::parse_assertion("{\"id\": 1}"), Err(Error::Invalid { .. })));
        assert!(matches!(
            guss_identity::parse_registration(&"x".repeat(70_000)),
            Err(Error::LimitExceeded { .. })
        ));
    }

    async fn second_passkey_step_up_and_removal(db: TestDb) {
        let w = world(&db).await;
        let (tenant, session, mut anna) = w.office().await;
        let challenge = w.identity.start_add_passkey(&session, "Phone").await.unwrap();
        let mut phone = SoftPasskey::new(true);
        let credential = phone.do_registration(w.origin.clone(), challenge.options).unwrap();
        let added = w.identity.finish_add_passkey(&session, &challenge.ceremony, &credential).await.unwrap();
        assert_eq!(w.identity.passkeys(&session).await.unwrap().len(), 2);

        // The same authenticator cannot register the same credential twice (exclusion list),
        // and the phone now signs in too.
        let phone_session = w.sign_in(tenant, "anna@kanzlei.example", &mut phone).await.unwrap();
        assert_eq!(phone_session.person(), session.person());

        // Removing needs a fresh confirmation; the last passkey stays.
        w.clock.advance(TimeDelta::minutes(10));
        let stale = session;
        assert!(matches!(w.identity.remove_passkey(&stale, added.id).await, Err(Error::StepUpRequired)));
        let fresh = w.step_up(&stale, &mut anna).await;
        w.identity.remove_passkey(&fresh, added.id).await.unwrap();
        let last = w.identity.passkeys(&fresh).await.unwrap()[0].id;
        assert!(matches!(w.identity.remove_passkey(&fresh, last).await, Err(Error::Conflict { .. })));
        assert!(w.sign_in(tenant, "anna@kanzlei.example", &mut phone).await.is_err());
    }

    async fn invitations_need_an_admin_with_a_fresh_passkey(db: TestDb) {
        let w = world(&db).await;
        let (tenant, anna, _) = w.office().await;
        let mut ben_device = SoftPasskey::new(true);
        let ben = w.invite(&anna, "ben@kanzlei.example", "Ben Meier", &mut ben_device).await;
        // Ben is a member: not allowed to invite, however fresh his confirmation.
        let refused = w.identity.invite(&ben, "carla@kanzlei.example".parse().unwrap(), "Carla", &[]).await;
        assert!(matches!(refused, Err(Error::Forbidden)), "{refused:?}");
        // An address is one person's.
        let taken = w.identity.invite(&anna, "ben@kanzlei.example".parse().unwrap(), "Ben 2", &[]).await;
        assert!(matches!(taken, Err(Error::Conflict { .. })), "{taken:?}");
        // Revoked invitations cannot be used.
        let link = w.identity.invite(&anna, "dora@kanzlei.example".parse().unwrap(), "Dora", &[]).await.unwrap();
        assert_eq!(w.identity.invitations(&anna).await.unwrap().len(), 1);
        w.identity.revoke_enrollment(&anna, link.id).await.unwrap();
        let mut dora = SoftPasskey::new(true);
        assert!(matches!(w.enroll(tenant, &link.token, &mut dora).await, Err(Error::NotFound { .. })));
        // Sent again: the old link is dead, the new one works.
        let link = w.identity.invite(&anna, "fritz@kanzlei.example".parse().unwrap(), "Fritz", &[]).await.unwrap();
        assert!(matches!(w.identity.resend_invitation(&ben, link.id).await, Err(Error::Forbidden)));
        let again = w.identity.resend_invitation(&anna, link.id).await.unwrap();
        assert_ne!(again.token, link.token);
        let open = w.identity.invitations(&anna).await.unwrap();
        assert_eq!(open.iter().map(|i| i.id).collect::<Vec<_>>(), [again.id]);
        let mut fritz = SoftPasskey::new(true);
        assert!(matches!(w.enroll(tenant, &link.token, &mut fritz).await, Err(Error::NotFound { .. })));
        w.enroll(tenant, &again.token, &mut fritz).await.unwrap();
        assert!(matches!(w.identity.resend_invitation(&anna, again.id).await, Err(Error::NotFound { .. })), "used up");
        // Expired ones neither.
        let link = w.identity.invite(&anna, "emil@kanzlei.example".parse().unwrap(), "Emil", &[]).await.unwrap();
        w.clock.advance(TimeDelta::days(8));
        assert!(matches!(w.enroll(tenant, &link.token, &mut dora).await, Err(Error::NotFound { .. })));
    }

    async fn app_passwords_are_scoped_and_revocable(db: TestDb) {
        let w = world(&db).await;
        let (tenant, anna, _) = w.office().await;
        let created = w.identity.create_app_password(&anna, "iPhone Mail", &[Scope::Mail]).await.unwrap();
        let basic = Credentials::basic("Anna@Kanzlei.example", created.password.clone());
        let principal = w.identity.authenticate(tenant, &basic, Scope::Mail).await.unwrap();
        assert_eq!(principal, anna.principal());
        assert!(w.identity.authenticate(tenant, &basic, Scope::Files).await.is_err());
        // The same password with its last character changed.
        let mut altered = created.password.clone();
        let last = altered.pop().unwrap();
        altered.push(if last == 'b' { 'c' } else { 'b' });
        let wrong = Credentials::basic("anna@kanzlei.example", altered);
        assert!(w.identity.authenticate(tenant, &wrong, Scope::Mail).await.is_err());
        assert!(w.identity.authenticate(TenantId::new(), &basic, Scope::Mail).await.is_err());
        assert!(w.identity.app_passwords(&anna).await.unwrap()[0].last_used_at.is_some());
        w.identity.revoke_app_password(&anna, created.info.id).await.unwrap();
        assert!(w.identity.authenticate(tenant, &basic, Scope::Mail).await.is_err());
        // The web uses passkeys: no app password for it.
        assert!(w.identity.create_app_password(&anna, "Browser", &[Scope::Web]).await.is_err());
    }

    async fn bearer_sessions_expire_and_are_tenant_bound(db: TestDb) {
        let w = world(&db).await;
        let (tenant, anna, mut device) = w.office().await;
        let token = token_of(&w, tenant, "anna@kanzlei.example", &mut device).await;
        let bearer = Credentials::bearer(token.clone());
        assert_eq!(w.identity.authenticate(tenant, &bearer, Scope::Calendar).await.unwrap(), anna.principal());
        // Another tenant does not know the token.
        let (other, _, _) = w.office().await;
        assert!(w.identity.authenticate(other, &bearer, Scope::Calendar).await.is_err());
        // Idle expiry.
        w.clock.advance(TimeDelta::hours(13));
        assert!(matches!(w.identity.session(tenant, &token).await, Err(Error::Unauthenticated)));
        // Revocation.
        let session = w.sign_in(tenant, "anna@kanzlei.example", &mut device).await.unwrap();
        // Only live sessions are listed: the idle ones have ended.
        assert_eq!(w.identity.sessions(&session).await.unwrap().len(), 1);
        w.identity.sign_out(&session).await.unwrap();
        assert!(w.identity.sessions(&session).await.unwrap().iter().all(|s| s.id != session.info.id));
    }

    async fn suspension_revokes_everything_at_once(db: TestDb) {
        let w = world(&db).await;
        let (tenant, anna, _) = w.office().await;
        let mut ben_device = SoftPasskey::new(true);
        let ben = w.invite(&anna, "ben@kanzlei.example", "Ben Meier", &mut ben_device).await;
        let password = w.identity.create_app_password(&ben, "Thunderbird", &[Scope::Mail]).await.unwrap().password;
        let ben_token = token_of(&w, tenant, "ben@kanzlei.example", &mut ben_device).await;

        w.identity.suspend(&anna, ben.person()).await.unwrap();
        assert!(w.identity.session(tenant, &ben_token).await.is_err());
        assert!(w.identity.authenticate(tenant, &Credentials::basic("ben@kanzlei.example", password.clone()), Scope::Mail).await.is_err());
        assert!(w.sign_in(tenant, "ben@kanzlei.example", &mut ben_device).await.is_err());
        // Credentials are kept for the record.
        let store = w.identity.store().scoped(tenant).await.unwrap();
        assert_eq!(store.passkeys_of(ben.person()).await.unwrap().len(), 1);
        // Reactivation does not bring old sessions or app passwords back.
        w.identity.reactivate(&anna, ben.person()).await.unwrap();
        assert!(w.identity.session(tenant, &ben_token).await.is_err());
        assert!(w.identity.authenticate(tenant, &Credentials::basic("ben@kanzlei.example", password), Scope::Mail).await.is_err());
        assert!(w.sign_in(tenant, "ben@kanzlei.example", &mut ben_device).await.is_ok());
        // The last owner cannot be locked out, nor can one lock oneself out.
        assert!(matches!(w.identity.mark_departed(&anna, anna.person()).await, Err(Error::Conflict { .. })));
        assert!(matches!(w.identity.revoke_role(&anna, anna.person(), &Role::OWNER).await, Err(Error::Conflict { .. })));
        w.identity.mark_departed(&anna, ben.person()).await.unwrap();
        let directory = w.identity.find_address(tenant, &"ben@kanzlei.example".parse().unwrap()).await.unwrap();
        assert!(matches!(directory, Some(DirectoryEntry::Person(p)) if p.status == PersonStatus::Departed));
    }

    async fn two_owners_revoking_each_other_at_once_leave_one(db: TestDb) {
        let w = world(&db).await;
        let (tenant, anna, _) = w.office().await;
        let mut ben_device = SoftPasskey::new(true);
        let ben = w.invite(&anna, "ben@kanzlei.example", "Ben Meier", &mut ben_device).await;
        let store = w.identity.store().scoped(tenant).await.unwrap();
        // Each revocation reads whether an owner would remain; at once,
        // each must see the other's outcome, never the state before it.
        for _ in 0..5 {
            store.grant_role(anna.person(), &Role::OWNER, Utc::now()).await.unwrap();
            store.grant_role(ben.person(), &Role::OWNER, Utc::now()).await.unwrap();
            let owner = Role::OWNER;
            let (first, second) = tokio::join!(
                store.revoke_role(anna.person(), &owner),
                store.revoke_role(ben.person(), &owner),
            );
            assert!(first.is_ok() != second.is_ok(), "{first:?} {second:?}");
        }
    }

    async fn recovery_link_with_delay(db: TestDb) {
        let w = world(&db).await;
        let (tenant, anna, mut anna_device) = w.office().await;
        let mut lost = SoftPasskey::new(true);
        let ben = w.invite(&anna, "ben@kanzlei.example", "Ben Meier", &mut lost).await;
        let link = w.identity.issue_recovery_link(&anna, ben.person(), TimeDelta::minutes(30)).await.unwrap();
        let mut new_phone = SoftPasskey::new(true);
        assert!(matches!(w.enroll(tenant, &link.token, &mut new_phone).await, Err(Error::NotFound { .. })), "usable before its delay");
        w.clock.advance(TimeDelta::minutes(31));
        let signed_in = w.enroll(tenant, &link.token, &mut new_phone).await.unwrap();
        assert_eq!(signed_in.session.method, AuthMethod::RecoveryLink);
        let session = w.identity.session(tenant, &signed_in.token).await.unwrap();
        assert!(matches!(w.identity.require_step_up(&session), Err(Error::StepUpRequired)));
        assert!(w.sign_in(tenant, "ben@kanzlei.example", &mut new_phone).await.is_ok());
        // No more than two open links per person.
        let anna = w.sign_in(tenant, "anna@kanzlei.example", &mut anna_device).await.unwrap();
        w.identity.issue_recovery_link(&anna, ben.person(), TimeDelta::zero()).await.unwrap();
        w.identity.issue_recovery_link(&anna, ben.person(), TimeDelta::zero()).await.unwrap();
        let third = w.identity.issue_recovery_link(&anna, ben.person(), TimeDelta::zero()).await;
        assert!(matches!(third, Err(Error::LimitExceeded { .. })), "{third:?}");
        let issued = w.events.events().into_iter().find(|e| e.kind().as_str() == "guss.identity.recovery.link_issued").unwrap();
        let notify = issued.data().unwrap()["notify"].as_array().unwrap().clone();
        assert!(notify.contains(&"anna@kanzlei.example".into()) && notify.contains(&"ben@kanzlei.example".into()));
    }

    async fn break_glass_with_veto_then_completion(db: TestDb) {
        let w = world(&db).await;
        let (tenant, anna, mut anna_device) = w.office().await;
        let trustees = ["Anna".to_owned(), "Ben (deputy)".to_owned(), "Dr. Weber (tax adviser)".to_owned()];
        let sheets = w.identity.configure_trustees(&anna, 2, &trustees).await.unwrap();
        assert_eq!(sheets.len(), 3);
        let shares: Vec<String> = sheets.iter().map(|s| s.share.clone()).collect();
        let clara = "clara@kanzlei.example";

        // One sheet is not enough, and garbage is refused.
        let one = w.identity.start_break_glass(tenant, &shares[..1], clara.parse().unwrap(), "Clara", &client()).await;
        assert!(matches!(one, Err(Error::Unauthenticated)));
        let forged = vec![shares[0].clone(), "guss-recovery-1:AAAA".to_owned()];
        assert!(w.identity.start_break_glass(tenant, &forged, clara.parse().unwrap(), "Clara", &client()).await.is_err());

        // Two sheets start the waiting period; an admin vetoes.
        let request = w.identity.start_break_glass(tenant, &shares[1..], clara.parse().unwrap(), "Clara", &client()).await.unwrap();
        let claim = shares[1..].to_vec();
        assert!(matches!(w.identity.finish_break_glass(tenant, request.id, &claim, &client()).await, Err(Error::Conflict { .. })));
        let anna = w.step_up(&anna, &mut anna_device).await;
        w.identity.veto_break_glass(&anna, request.id).await.unwrap();
        w.clock.advance(TimeDelta::hours(73));
        assert!(matches!(w.identity.finish_break_glass(tenant, request.id, &claim, &client()).await, Err(Error::Forbidden)));
        // The sheets were used: they do not work twice.
        assert!(w.identity.start_break_glass(tenant, &shares[..2], clara.parse().unwrap(), "Clara", &client()).await.is_err());

        // New sheets; this time nobody vetoes.
        let anna = w.sign_in(tenant, "anna@kanzlei.example", &mut anna_device).await.unwrap();
        let sheets = w.identity.configure_trustees(&anna, 2, &trustees).await.unwrap();
        let shares: Vec<String> = vec![sheets[0].share.clone(), sheets[2].share.clone()];
        let request = w.identity.start_break_glass(tenant, &shares, clara.parse().unwrap(), "Clara", &client()).await.unwrap();
        w.clock.advance(TimeDelta::hours(72));
        // The request id alone claims nothing: the sheets must be presented again.
        let no_sheets = w.identity.finish_break_glass(tenant, request.id, &[], &client()).await;
        assert!(matches!(no_sheets, Err(Error::Unauthenticated)), "{no_sheets:?}");
        let link = w.identity.finish_break_glass(tenant, request.id, &shares, &client()).await.unwrap();
        assert!(w.identity.finish_break_glass(tenant, request.id, &shares, &client()).await.is_err(), "one owner passkey, once");
        let mut clara_device = SoftPasskey::new(true);
        let signed_in = w.enroll(tenant, &link.token, &mut clara_device).await.unwrap();
        assert_eq!(signed_in.session.method, AuthMethod::BreakGlass);
        let clara_session = w.sign_in(tenant, clara, &mut clara_device).await.unwrap();
        let people = w.identity.people(&clara_session).await.unwrap();
        assert!(people.iter().find(|p| p.id == clara_session.person()).unwrap().has_role(&Role::OWNER));
        let types = w.events.types();
        for expected in ["guss.identity.recovery.started", "guss.identity.recovery.vetoed", "guss.identity.recovery.completed"] {
            assert!(types.iter().any(|t| t == expected), "{expected} missing");
        }
    }

    async fn failed_attempts_are_rate_limited(db: TestDb) {
        let w = world(&db).await;
        let (tenant, anna, _) = w.office().await;
        let created = w.identity.create_app_password(&anna, "Laptop", &[Scope::Files]).await.unwrap();
        let limit = w.identity.settings().max_failed_attempts;
        for _ in 0..limit {
            let result = w.identity.authenticate_app_password(tenant, "anna@kanzlei.example", "aaaa-bbbb", Scope::Files, &client()).await;
            assert!(matches!(result, Err(Error::Unauthenticated)));
        }
        // Now even the right password is refused for a while, from that address and for that account.
        let result = w.identity.authenticate_app_password(tenant, "anna@kanzlei.example", &created.password, Scope::Files, &client()).await;
        assert!(matches!(result, Err(Error::RateLimited { .. })), "{result:?}");
        w.clock.advance(TimeDelta::minutes(16));
        assert!(w.identity.authenticate_app_password(tenant, "anna@kanzlei.example", &created.password, Scope::Files, &client()).await.is_ok());
    }
}

async fn token_of(w: &World, tenant: TenantId, email: &str, device: &mut SoftPasskey) -> String {
    let challenge = w
        .identity
        .start_sign_in(tenant, Some(&email.parse().unwrap()))
        .await
        .unwrap();
    let credential = device
        .do_authentication(w.origin.clone(), challenge.options)
        .unwrap();
    w.identity
        .finish_sign_in(tenant, &challenge.ceremony, &credential, &client())
        .await
        .unwrap()
        .token
}
