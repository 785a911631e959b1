//! Request bodies of RFC 4918 (PROPFIND, PROPPATCH, LOCK) and RFC 5689
//! (extended MKCOL).

use crate::xml::{Element, Limits, PropertyName, parse};
use crate::{Error, Result};

/// What a PROPFIND asks for (RFC 4918 §9.1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PropfindRequest {
    /// All live and dead properties, plus the named extra ones (`<include>`).
    AllProp(Vec<PropertyName>),
    /// The names of all properties, without values.
    PropName,
    /// These properties.
    Prop(Vec<PropertyName>),
}

/// Parses a PROPFIND body; an empty body means `allprop` (RFC 4918 §9.1).
pub fn parse_propfind(body: &str) -> Result<PropfindRequest> {
    parse_propfind_within(body, Limits::default())
}

/// [`parse_propfind`] under explicit XML bounds.
///
/// ```
/// use guss_dav::{Limits, PropfindRequest, parse_propfind_within};
///
/// let mut limits = Limits::default();
/// limits.max_elements = 2;
/// let body = r#"<propfind xmlns="DAV:"><prop><getetag/><displayname/></prop></propfind>"#;
/// assert!(parse_propfind_within(body, limits).is_err());
/// assert_eq!(parse_propfind_within("", limits)?, PropfindRequest::AllProp(vec![]));
/// # Ok::<(), guss_dav::Error>(())
/// ```
pub fn parse_propfind_within(body: &str, limits: Limits) -> Result<PropfindRequest> {
    if body.trim().is_empty() {
        return Ok(PropfindRequest::AllProp(Vec::new()));
    }
    let root = parse(body, limits)?;
    expect(&root, "propfind")?;
    if let Some(prop) = root.dav_child("prop") {
        return Ok(PropfindRequest::Prop(
            prop.children().map(|c| c.name.clone()).collect(),
        ));
    }
    if root.dav_child("propname").is_some() {
        return Ok(PropfindRequest::PropName);
    }
    if root.dav_child("allprop").is_some() {
        let include = root
            .dav_child("include")
            .map(|i| i.children().map(|c| c.name.clone()).collect())
            .unwrap_or_default();
        return Ok(PropfindRequest::AllProp(include));
    }
    Err(Error::body("propfind needs prop, propname or allprop"))
}

/// One change of a PROPPATCH, in document order (RFC 4918 §9.2: all or none).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PropPatch {
    /// Set a property to a value (its content as XML with explicit namespaces).
    Set(PropertyName, String),
    /// Remove a property.
    Remove(PropertyName),
}

/// Parses a PROPPATCH body.
pub fn parse_proppatch(body: &str) -> Result<Vec<PropPatch>> {
    parse_proppatch_within(body, Limits::default())
}

/// [`parse_proppatch`] under explicit XML bounds.
///
/// ```
/// use guss_dav::{Limits, PropPatch, parse_proppatch_within};
///
/// let body = r#"<propertyupdate xmlns="DAV:"><remove><prop><displayname/></prop></remove></propertyupdate>"#;
/// let changes = parse_proppatch_within(body, Limits::default())?;
/// assert!(matches!(&changes[..], [PropPatch::Remove(name)] if name.local == "displayname"));
/// # Ok::<(), guss_dav::Error>(())
/// ```
pub fn parse_proppatch_within(body: &str, limits: Limits) -> Result<Vec<PropPatch>> {
    let root = parse(body, limits)?;
    expect(&root, "propertyupdate")?;
    let mut changes = Vec::new();
    for instruction in root.children() {
        let set = instruction.is_dav("set");
        if !set && !instruction.is_dav("remove") {
            return Err(Error::body("propertyupdate holds set and remove only"));
        }
        let prop = instruction
            .dav_child("prop")
            .ok_or_else(|| Error::body("set and remove need a prop"))?;
        for property in prop.children() {
            changes.push(if set {
                PropPatch::Set(property.name.clone(), property.inner_xml())
            } else {
                PropPatch::Remove(property.name.clone())
            });
        }
    }
    if changes.is_empty() {
        return Err(Error::body("propertyupdate changes nothing"));
    }
    Ok(changes)
}

/// Properties to set on a new collection (RFC 5689 extended MKCOL), with
/// their values as XML; empty for a plain MKCOL without body.
pub fn parse_mkcol(body: &str) -> Result<Vec<(PropertyName, String)>> {
    parse_mkcol_within(body, Limits::default())
}

/// [`parse_mkcol`] under explicit XML bounds.
///
/// ```
/// use guss_dav::{Limits, parse_mkcol_within};
///
/// let body = r#"<mkcol xmlns="DAV:"><set><prop><displayname>Akten</displayname></prop></set></mkcol>"#;
/// assert_eq!(parse_mkcol_within(body, Limits::default())?[0].1, "Akten");
/// # Ok::<(), guss_dav::Error>(())
/// ```
pub fn parse_mkcol_within(body: &str, limits: Limits) -> Result<Vec<(PropertyName, String)>> {
    if body.trim().is_empty() {
        return Ok(Vec::new());
    }
    let root = parse(body, limits)?;
    expect(&root, "mkcol")?;
    let mut props = Vec::new();
    for set in root.children() {
        if !set.is_dav("set") {
            return Err(Error::body("mkcol holds set only"));
        }
        let prop = set
            .dav_child("prop")
            .ok_or_else(|| Error::body("set needs a prop"))?;
        props.extend(prop.children().map(|p| (p.name.clone(), p.inner_xml())));
    }
    Ok(props)
}

/// Exclusive or shared (RFC 4918 §14.13).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LockScope {
    /// One holder.
    Exclusive,
    /// Several holders.
    Shared,
}

/// A LOCK request (RFC 4918 §9.10): a new write lock.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LockInfo {
    /// Exclusive or shared.
    pub scope: LockScope,
    /// The owner as the client gave it (XML with explicit namespaces), to echo back.
    pub owner: Option<String>,
}

/// Parses a LOCK body; `None` for an empty body (a lock refresh).
pub fn parse_lockinfo(body: &str) -> Result<Option<LockInfo>> {
    parse_lockinfo_within(body, Limits::default())
}

/// [`parse_lockinfo`] under explicit XML bounds.
///
/// ```
/// use guss_dav::{Limits, LockScope, parse_lockinfo_within};
///
/// let body = r#"<lockinfo xmlns="DAV:"><lockscope><shared/></lockscope><locktype><write/></locktype></lockinfo>"#;
/// assert_eq!(parse_lockinfo_within(body, Limits::default())?.unwrap().scope, LockScope::Shared);
/// assert_eq!(parse_lockinfo_within("", Limits::default())?, None);
/// # Ok::<(), guss_dav::Error>(())
/// ```
pub fn parse_lockinfo_within(body: &str, limits: Limits) -> Result<Option<LockInfo>> {
    if body.trim().is_empty() {
        return Ok(None);
    }
    let root = parse(body, limits)?;
    expect(&root, "lockinfo")?;
    let scope = root
        .dav_child("lockscope")
        .ok_or_else(|| Error::body("lockinfo needs a lockscope"))?;
    let scope = if scope.dav_child("exclusive").is_some() {
        LockScope::Exclusive
    } else if scope.dav_child("shared").is_some() {
        LockScope::Shared
    } else {
        return Err(Error::body("lockscope is exclusive or shared"));
    };
    let locktype = root
        .dav_child("locktype")
        .ok_or_else(|| Error::body("lockinfo needs a locktype"))?;
    if locktype.dav_child("write").is_none() {
        return Err(Error::body("only write locks exist"));
    }
    Ok(Some(LockInfo {
        scope,
        owner: root.dav_child("owner").map(Element::inner_xml),
    }))
}

fn expect(root: &Element, local: &str) -> Result<()> {
    if root.is_dav(local) {
        Ok(())
    } else {
        Err(Error::body(format!("expected DAV:{local}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::DAV;

    #[test]
    fn propfind_forms() {
        assert_eq!(
            parse_propfind("").unwrap(),
            PropfindRequest::AllProp(vec![])
        );
        assert_eq!(
            parse_propfind(r#"<propfind xmlns="DAV:"><propname/></propfind>"#).unwrap(),
            PropfindRequest::PropName
        );
        let all = parse_propfind(r#"<D:propfind xmlns:D="DAV:"><D:allprop/><D:include><D:supported-lock/></D:include></D:propfind>"#).unwrap();
        assert_eq!(
            all,
            PropfindRequest::AllProp(vec![PropertyName::new(DAV, "supported-lock")])
        );
        let props = parse_propfind(
            r#"<propfind xmlns="DAV:" xmlns:z="urn:z"><prop><getetag/><z:x/></prop></propfind>"#,
        )
        .unwrap();
        assert_eq!(
            props,
            PropfindRequest::Prop(vec![
                PropertyName::new(DAV, "getetag"),
                PropertyName::new("urn:z", "x")
            ])
        );
        for bad in [
            "<propfind/>",
            r#"<propfind xmlns="urn:other"><prop/></propfind>"#,
            "<a",
            r#"<x xmlns="DAV:"/>"#,
        ] {
            assert!(parse_propfind(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn proppatch_keeps_order_and_values() {
        let body = r#"<D:propertyupdate xmlns:D="DAV:" xmlns:Z="http://ns.example.com/z/">
            <D:set><D:prop><Z:Authors><Z:Author>Jim</Z:Author></Z:Authors></D:prop></D:set>
            <D:remove><D:prop><Z:Copyright-Owner/></D:prop></D:remove>
        </D:propertyupdate>"#;
        let changes = parse_proppatch(body).unwrap();
        assert_eq!(changes.len(), 2);
        let PropPatch::Set(name, value) = &changes[0] else {
            panic!()
        };
        assert_eq!(
            name,
            &PropertyName::new("http://ns.example.com/z/", "Authors")
        );
        assert_eq!(
            value,
            r#"<Author xmlns="http://ns.example.com/z/">Jim</Author>"#
        );
        assert_eq!(
            changes[1],
            PropPatch::Remove(PropertyName::new(
                "http://ns.example.com/z/",
                "Copyright-Owner"
            ))
        );
        assert!(parse_proppatch(r#"<propertyupdate xmlns="DAV:"/>"#).is_err());
    }

    #[test]
    fn lockinfo_and_refresh() {
        assert_eq!(parse_lockinfo("").unwrap(), None);
        let body = r#"<D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype><D:owner><D:href>http://example.org/~ejw/contact.html</D:href></D:owner></D:lockinfo>"#;
        let info = parse_lockinfo(body).unwrap().unwrap();
        assert_eq!(info.scope, LockScope::Exclusive);
        assert_eq!(
            info.owner.unwrap(),
            r#"<href xmlns="DAV:">http://example.org/~ejw/contact.html</href>"#
        );
        assert!(parse_lockinfo(r#"<lockinfo xmlns="DAV:"><lockscope><shared/></lockscope><locktype><read/></locktype></lockinfo>"#).is_err());
    }

    #[test]
    fn extended_mkcol() {
        assert!(parse_mkcol("").unwrap().is_empty());
        let body = r#"<D:mkcol xmlns:D="DAV:"><D:set><D:prop><D:displayname>Akten</D:displayname></D:prop></D:set></D:mkcol>"#;
        assert_eq!(
            parse_mkcol(body).unwrap(),
            vec![(PropertyName::new(DAV, "displayname"), "Akten".to_owned())]
        );
    }
}
