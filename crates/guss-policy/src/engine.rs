//! The Cedar engine: the guss schema, the built-in policies, each tenant's
//! own policies, and decisions with their explanation. Pure: no I/O, builds
//! for wasm.

use std::collections::{HashMap, HashSet};
use std::str::FromStr as _;
use std::sync::{Arc, PoisonError, RwLock};

use cedar_policy::{
    Context as CedarContext, Entities, Entity, EntityId, EntityTypeName, EntityUid, PolicyId,
    PolicySet, Request, RestrictedExpression, Schema, ValidationMode, Validator,
};
use guss_core::{Action, Context, Decision, Limit, Resource, ResourceKind, TenantId};
use serde::{Deserialize, Serialize};

use crate::facts::{Grantee, PrincipalFacts, ResourceFacts, ShareLevel, ShareLinkFacts, Subject};
use crate::{Error, Result};

/// The guss schema in Cedar's schema syntax.
pub const SCHEMA: &str = include_str!("policies/schema.cedarschema");
/// The built-in policies for the standard roles.
pub const BUILTIN_POLICIES: &str = include_str!("policies/builtin.cedar");

/// Largest tenant policy text accepted.
const MAX_POLICY_TEXT: Limit = Limit::new("tenant policy size", 64 * 1024);
/// Most policies a tenant may add.
const MAX_TENANT_POLICIES: Limit = Limit::new("tenant policies", 200);

/// A decision and why it was made.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Explanation {
    /// Allow or deny.
    pub decision: Decision,
    /// The policies that decided: the permits that allowed, or the forbids
    /// that denied. Empty for a deny because nothing permitted.
    pub policies: Vec<String>,
    /// Why evaluation could not complete, if it could not (the answer is then deny).
    pub errors: Vec<String>,
}

impl Explanation {
    pub(crate) fn deny(reason: impl Into<String>) -> Self {
        Explanation {
            decision: Decision::Deny,
            policies: Vec::new(),
            errors: vec![reason.into()],
        }
    }
}

/// One request, with everything the engine needs to decide it.
#[derive(Clone, Copy, Debug)]
pub struct Query<'a> {
    /// Who, with their facts.
    pub principal: &'a PrincipalFacts,
    /// What.
    pub action: &'a Action,
    /// Which.
    pub resource: &'a Resource,
    /// Facts about the resource.
    pub facts: &'a ResourceFacts,
    /// Device posture and other request facts.
    pub context: &'a Context,
}

struct Types {
    tenant: EntityTypeName,
    role: EntityTypeName,
    group: EntityTypeName,
    person: EntityTypeName,
    share_link: EntityTypeName,
    action: EntityTypeName,
    /// Resource kinds by their guss name, parsed once.
    resources: HashMap<&'static str, EntityTypeName>,
}

/// The authorization engine. Decisions are made against the built-in policies
/// plus the tenant's own.
///
/// ```
/// use guss_core::{Action, Context, Decision, PersonId, Resource, ResourceKind, Scope, TenantId};
/// use guss_policy::{PolicyEngine, PrincipalFacts, Query, ResourceFacts, Subject};
///
/// let engine = PolicyEngine::new()?;
/// let tenant = TenantId::new();
/// let anna = PersonId::new();
/// let who = PrincipalFacts::Person(Subject::new(anna, ["member"], vec![]));
/// let mailbox = Resource::new(tenant, ResourceKind::MAILBOX, "anna")?;
/// let facts = ResourceFacts::owned_by(anna, Scope::Mail);
/// let query = Query { principal: &who, action: &Action::READ, resource: &mailbox, facts: &facts, context: &Context::new() };
/// let answer = engine.decide(tenant, &query);
/// assert_eq!(answer.decision, Decision::Allow);
/// assert_eq!(answer.policies, ["owners-of-a-resource-have-full-access"]);
/// # Ok::<(), guss_policy::Error>(())
/// ```
pub struct PolicyEngine {
    schema: Schema,
    builtin: Arc<Partitioned>,
    tenants: RwLock<HashMap<TenantId, Arc<Partitioned>>>,
    cedar: cedar_policy::Authorizer,
    types: Types,
}

impl std::fmt::Debug for PolicyEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PolicyEngine").finish_non_exhaustive()
    }
}

fn type_name(name: &str) -> Result<EntityTypeName> {
    EntityTypeName::from_str(name).map_err(|e| Error::invalid("entity type", e.to_string()))
}

impl PolicyEngine {
    /// The engine with the built-in policies, validated against the schema.
    pub fn new() -> Result<Self> {
        let (schema, _warnings) = Schema::from_cedarschema_str(SCHEMA)
            .map_err(|e| Error::invalid("policy schema", e.to_string()))?;
        let builtin = with_annotated_ids(BUILTIN_POLICIES, "")?;
        validate(&schema, &builtin)?;
        Ok(PolicyEngine {
            schema,
            builtin: Arc::new(Partitioned::new(builtin)?),
            tenants: RwLock::new(HashMap::new()),
            cedar: cedar_policy::Authorizer::new(),
            types: Types {
                tenant: type_name("Guss::Tenant")?,
                role: type_name("Guss::Role")?,
                group: type_name("Guss::Group")?,
                person: type_name("Guss::Person")?,
                share_link: type_name("Guss::ShareLink")?,
                action: type_name("Guss::Action")?,
                resources: [
                    ("tenant", "Tenant"),
                    ("person", "Person"),
                    ("group", "Group"),
                    ("role", "Role"),
                    ("device", "Device"),
                    ("mailbox", "Mailbox"),
                    ("calendar", "Calendar"),
                    ("event", "Event"),
                    ("folder", "Folder"),
                    ("file", "File"),
                ]
                .into_iter()
                .map(|(kind, name)| Ok((kind, type_name(&format!("Guss::{name}"))?)))
                .collect::<Result<_>>()?,
            },
        })
    }

    /// Replaces a tenant's own policies. The text is parsed and validated
    /// together with the built-in policies; if anything is wrong the error
    /// says what, and the previous policies stay in force. Returns how many
    /// policies the tenant now has.
    pub fn set_tenant_policies(&self, tenant: TenantId, text: &str) -> Result<usize> {
        MAX_POLICY_TEXT.check_len(text.len())?;
        let own = with_annotated_ids(text, "tenant:")?;
        let count = own.policies().count();
        MAX_TENANT_POLICIES.check_len(count)?;
        let mut merged = self.builtin.all.clone();
        for policy in own.policies() {
            merged
                .add(policy.clone())
                .map_err(|e| Error::invalid("tenant policies", e.to_string()))?;
        }
        validate(&self.schema, &merged)?;
        self.tenants
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(tenant, Arc::new(Partitioned::new(merged)?));
        Ok(count)
    }

    /// Drops a tenant's own policies: the built-in ones remain.
    pub fn clear_tenant_policies(&self, tenant: TenantId) {
        self.tenants
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&tenant);
    }

    fn policies(&self, tenant: TenantId) -> Arc<Partitioned> {
        self.tenants
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&tenant)
            .cloned()
            .unwrap_or_else(|| self.builtin.clone())
    }

    /// Decides a query in `tenant`. Anything that keeps the engine from
    /// evaluating every policy cleanly is a deny, never a guess.
    pub fn decide(&self, tenant: TenantId, query: &Query<'_>) -> Explanation {
        if query.resource.tenant() != tenant {
            return Explanation::deny("the resource belongs to another tenant");
        }
        match self.evaluate(tenant, query) {
            Ok(explanation) => explanation,
            Err(e) => Explanation::deny(e.to_string()),
        }
    }

    fn evaluate(&self, tenant: TenantId, query: &Query<'_>) -> Result<Explanation> {
        let tenant_uid = self.uid(&self.types.tenant, &tenant.to_string());
        let mut entities = Vec::new();
        let (principal_uid, acting) = match query.principal {
            PrincipalFacts::Person(subject) => {
                (self.person(subject, &tenant_uid, &mut entities)?, None)
            }
            PrincipalFacts::Deputy {
                deputy,
                represented,
                grants,
            } => {
                let uid = self.person(deputy, &tenant_uid, &mut entities)?;
                // Only grants in force that cover the resource's service count.
                let covering: Vec<_> = grants
                    .iter()
                    .filter(|g| {
                        g.tenant == tenant
                            && g.deputy == deputy.person
                            && g.represented == *represented
                    })
                    .filter(|g| query.facts.scope.is_none_or(|s| g.scopes.contains(&s)))
                    .collect();
                let acting = (!covering.is_empty()).then(|| {
                    let scopes: HashSet<String> = covering
                        .iter()
                        .flat_map(|g| g.scopes.iter().map(|s| s.as_str().to_owned()))
                        .collect();
                    (*represented, scopes, covering.iter().any(|g| g.write))
                });
                (uid, acting)
            }
            PrincipalFacts::ShareLink(link) => {
                (self.share_link(link, &tenant_uid, &mut entities)?, None)
            }
        };
        let resource_uid =
            self.resource(query.resource, query.facts, &tenant_uid, &mut entities)?;
        let action_uid = self.uid(&self.types.action, query.action.as_str());

        let mut context: Vec<(String, RestrictedExpression)> = Vec::new();
        if let Some(device) = query.context.device() {
            context.push((
                "device".into(),
                record([
                    ("known", RestrictedExpression::new_bool(device.known)),
                    (
                        "disk_encrypted",
                        RestrictedExpression::new_bool(device.disk_encrypted),
                    ),
                    (
                        "os_current",
                        RestrictedExpression::new_bool(device.os_current),
                    ),
                ])?,
            ));
        }
        if let Some((represented, scopes, write)) = acting {
            let represented = self.uid(&self.types.person, &represented.to_string());
            context.push((
                "acting_for".into(),
                RestrictedExpression::new_entity_uid(represented),
            ));
            context.push((
                "grant_scopes".into(),
                RestrictedExpression::new_set(
                    scopes.into_iter().map(RestrictedExpression::new_string),
                ),
            ));
            context.push(("grant_write".into(), RestrictedExpression::new_bool(write)));
        }
        let context = CedarContext::from_pairs(context)
            .map_err(|e| Error::invalid("context", e.to_string()))?;
        let request = Request::new(principal_uid, action_uid, resource_uid, context, None)
            .map_err(|e| Error::invalid("request", e.to_string()))?;
        let entities = Entities::from_entities(entities, None)
            .map_err(|e| Error::invalid("entities", e.to_string()))?;
        let policies = self.policies(tenant);
        let response =
            self.cedar
                .is_authorized(&request, policies.for_action(query.action), &entities);
        let diagnostics = response.diagnostics();
        let errors: Vec<String> = diagnostics.errors().map(ToString::to_string).collect();
        let policies: Vec<String> = diagnostics.reason().map(ToString::to_string).collect();
        // A policy that failed to evaluate might have been a forbid: deny.
        let decision = match response.decision() {
            cedar_policy::Decision::Allow if errors.is_empty() => Decision::Allow,
            _ => Decision::Deny,
        };
        Ok(Explanation {
            decision,
            policies,
            errors,
        })
    }

    fn uid(&self, kind: &EntityTypeName, id: &str) -> EntityUid {
        EntityUid::from_type_name_and_id(kind.clone(), EntityId::new(id))
    }

    fn person(
        &self,
        subject: &Subject,
        tenant: &EntityUid,
        entities: &mut Vec<Entity>,
    ) -> Result<EntityUid> {
        let uid = self.uid(&self.types.person, &subject.person.to_string());
        let parents: HashSet<EntityUid> = subject
            .roles
            .iter()
            .map(|r| self.uid(&self.types.role, r))
            .chain(
                subject
                    .groups
                    .iter()
                    .map(|g| self.uid(&self.types.group, &g.to_string())),
            )
            .collect();
        let attrs = HashMap::from([
            (
                "tenant".to_owned(),
                RestrictedExpression::new_entity_uid(tenant.clone()),
            ),
            (
                "active".to_owned(),
                RestrictedExpression::new_bool(subject.active),
            ),
        ]);
        entities.push(entity(uid.clone(), attrs, parents)?);
        Ok(uid)
    }

    fn share_link(
        &self,
        link: &ShareLinkFacts,
        tenant: &EntityUid,
        entities: &mut Vec<Entity>,
    ) -> Result<EntityUid> {
        let uid = self.uid(&self.types.share_link, &link.link.to_string());
        let mut attrs = HashMap::from([
            (
                "tenant".to_owned(),
                RestrictedExpression::new_entity_uid(tenant.clone()),
            ),
            (
                "can_read".to_owned(),
                RestrictedExpression::new_bool(link.can_read),
            ),
            (
                "can_upload".to_owned(),
                RestrictedExpression::new_bool(link.can_upload),
            ),
        ]);
        let target = self.resource_uid(&link.target)?;
        match link.target.kind().as_str() {
            "folder" => attrs.insert(
                "target_folder".to_owned(),
                RestrictedExpression::new_entity_uid(target),
            ),
            "file" => attrs.insert(
                "target_file".to_owned(),
                RestrictedExpression::new_entity_uid(target),
            ),
            _ => return Err(Error::invalid("share link", "targets a folder or a file")),
        };
        entities.push(entity(uid.clone(), attrs, HashSet::new())?);
        Ok(uid)
    }

    fn resource_uid(&self, resource: &Resource) -> Result<EntityUid> {
        let kind = self
            .types
            .resources
            .get(resource.kind().as_str())
            .ok_or_else(|| Error::invalid("resource kind", "not in the policy schema"))?;
        Ok(self.uid(kind, resource.id()))
    }

    fn resource(
        &self,
        resource: &Resource,
        facts: &ResourceFacts,
        tenant: &EntityUid,
        entities: &mut Vec<Entity>,
    ) -> Result<EntityUid> {
        let uid = self.resource_uid(resource)?;
        let tenant_attr = || {
            (
                "tenant".to_owned(),
                RestrictedExpression::new_entity_uid(tenant.clone()),
            )
        };
        let kind = resource.kind();
        let attrs: HashMap<String, RestrictedExpression> =
            if *kind == ResourceKind::TENANT || *kind == ResourceKind::ROLE {
                HashMap::new()
            } else if *kind == ResourceKind::PERSON {
                HashMap::from([
                    tenant_attr(),
                    ("active".to_owned(), RestrictedExpression::new_bool(true)),
                ])
            } else if *kind == ResourceKind::GROUP || *kind == ResourceKind::DEVICE {
                HashMap::from([tenant_attr()])
            } else {
                let mut attrs = HashMap::from([
                    tenant_attr(),
                    (
                        "scope".to_owned(),
                        RestrictedExpression::new_string(
                            facts
                                .scope
                                .map(|s| s.as_str().to_owned())
                                .unwrap_or_default(),
                        ),
                    ),
                    (
                        "sensitive".to_owned(),
                        RestrictedExpression::new_bool(facts.sensitive),
                    ),
                    ("sharing".to_owned(), self.sharing(facts)?),
                ]);
                if let Some(owner) = facts.owner {
                    attrs.insert(
                        "owner".to_owned(),
                        RestrictedExpression::new_entity_uid(
                            self.uid(&self.types.person, &owner.to_string()),
                        ),
                    );
                }
                attrs
            };
        let parents = facts
            .ancestors
            .iter()
            .map(|a| self.resource_uid(a))
            .collect::<Result<HashSet<_>>>()?;
        if *kind != ResourceKind::TENANT {
            // The tenant entity itself, so that `resource.tenant` resolves.
            entities.push(entity(tenant.clone(), HashMap::new(), HashSet::new())?);
        }
        entities.push(entity(uid.clone(), attrs, parents)?);
        Ok(uid)
    }

    fn sharing(&self, facts: &ResourceFacts) -> Result<RestrictedExpression> {
        let mut fields = Vec::new();
        for (level, people, groups) in [
            (ShareLevel::View, "viewers", "viewer_groups"),
            (ShareLevel::Edit, "editors", "editor_groups"),
            (ShareLevel::Manage, "managers", "manager_groups"),
        ] {
            let at_level = facts.shares.iter().filter(|s| s.level == level);
            let mut persons = Vec::new();
            let mut group_uids = Vec::new();
            for share in at_level {
                match share.grantee {
                    Grantee::Person(p) => persons.push(RestrictedExpression::new_entity_uid(
                        self.uid(&self.types.person, &p.to_string()),
                    )),
                    Grantee::Group(g) => group_uids.push(RestrictedExpression::new_entity_uid(
                        self.uid(&self.types.group, &g.to_string()),
                    )),
                }
            }
            fields.push((people, RestrictedExpression::new_set(persons)));
            fields.push((groups, RestrictedExpression::new_set(group_uids)));
        }
        record(fields)
    }
}

/// A policy set split by action: a request is evaluated only against the
/// policies whose action scope can match it. The schema has no action
/// groups, so `action in [..]` is plain membership and the split changes no
/// decision and no explanation.
struct Partitioned {
    all: PolicySet,
    by_action: HashMap<String, PolicySet>,
}

impl Partitioned {
    fn new(all: PolicySet) -> Result<Self> {
        let actions: HashSet<String> = all
            .policies()
            .flat_map(|p| match p.action_constraint() {
                cedar_policy::ActionConstraint::Any => Vec::new(),
                cedar_policy::ActionConstraint::Eq(uid) => vec![uid.id().unescaped().to_owned()],
                cedar_policy::ActionConstraint::In(uids) => {
                    uids.iter().map(|u| u.id().unescaped().to_owned()).collect()
                }
            })
            .chain(["read", "write", "delete", "share", "administer", "act_for"].map(str::to_owned))
            .collect();
        let mut by_action = HashMap::new();
        for action in actions {
            let mut subset = PolicySet::new();
            for policy in all.policies() {
                let applies = match policy.action_constraint() {
                    cedar_policy::ActionConstraint::Any => true,
                    cedar_policy::ActionConstraint::Eq(uid) => uid.id().unescaped() == action,
                    cedar_policy::ActionConstraint::In(uids) => {
                        uids.iter().any(|u| u.id().unescaped() == action)
                    }
                };
                if applies {
                    subset
                        .add(policy.clone())
                        .map_err(|e| Error::invalid("policies", e.to_string()))?;
                }
            }
            by_action.insert(action, subset);
        }
        Ok(Partitioned { all, by_action })
    }

    fn for_action(&self, action: &Action) -> &PolicySet {
        self.by_action.get(action.as_str()).unwrap_or(&self.all)
    }
}

fn record<'a>(
    fields: impl IntoIterator<Item = (&'a str, RestrictedExpression)>,
) -> Result<RestrictedExpression> {
    RestrictedExpression::new_record(fields.into_iter().map(|(k, v)| (k.to_owned(), v)))
        .map_err(|e| Error::invalid("record", e.to_string()))
}

fn entity(
    uid: EntityUid,
    attrs: HashMap<String, RestrictedExpression>,
    parents: HashSet<EntityUid>,
) -> Result<Entity> {
    Entity::new(uid, attrs, parents).map_err(|e| Error::invalid("entity", e.to_string()))
}

/// Parses a policy set and names each policy by its `@id` annotation (or
/// its position), with a prefix, so that explanations say something useful
/// and tenant policies cannot take built-in names.
fn with_annotated_ids(text: &str, prefix: &str) -> Result<PolicySet> {
    let parsed =
        PolicySet::from_str(text).map_err(|e| Error::invalid("policies", e.to_string()))?;
    let mut named = PolicySet::new();
    for (position, policy) in parsed.policies().enumerate() {
        let name = policy.annotation("id").map_or_else(
            || format!("{prefix}policy{position}"),
            |id| format!("{prefix}{id}"),
        );
        named
            .add(policy.new_id(PolicyId::new(name)))
            .map_err(|e| Error::invalid("policies", e.to_string()))?;
    }
    Ok(named)
}

fn validate(schema: &Schema, policies: &PolicySet) -> Result<()> {
    let result = Validator::new(schema.clone()).validate(policies, ValidationMode::Strict);
    if result.validation_passed() {
        Ok(())
    } else {
        let errors: Vec<String> = result
            .validation_errors()
            .map(ToString::to_string)
            .collect();
        Err(Error::invalid("policies", errors.join("; ")))
    }
}
