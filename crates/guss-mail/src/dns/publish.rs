//! Publishing the record set with RFC 2136 dynamic updates signed with TSIG
//! (RFC 8945), through the `dns-update` crate.

use std::collections::BTreeSet;
use std::fmt;
use std::net::SocketAddr;
use std::str::FromStr;
use std::time::Duration;

use base64::Engine as _;
use dns_update::{CAARecord, DnsRecord, DnsRecordType, DnsUpdater, KeyValue, MXRecord, SRVRecord};

use super::records::Group;
use super::{DnsError, RecordData, RecordSet, RecordType, bare, fqdn, in_zone};

/// How long one update or query may take.
const STEP_TIMEOUT: Duration = Duration::from_secs(15);

/// The shared secret that signs dynamic updates (TSIG, RFC 8945).
#[derive(Clone, PartialEq, Eq)]
pub struct TsigKey {
    /// The key's name as the server knows it: `guss-update`.
    pub name: String,
    /// The HMAC algorithm.
    pub algorithm: TsigAlgorithm,
    /// The secret bytes (not base64).
    pub secret: Vec<u8>,
}

impl fmt::Debug for TsigKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TsigKey")
            .field("name", &self.name)
            .field("algorithm", &self.algorithm)
            .field("secret", &"<redacted>")
            .finish()
    }
}

impl TsigKey {
    /// A key using HMAC-SHA256.
    pub fn new(name: impl Into<String>, secret: impl Into<Vec<u8>>) -> Self {
        Self {
            name: name.into(),
            algorithm: TsigAlgorithm::default(),
            secret: secret.into(),
        }
    }

    /// Reads a key in the form BIND's `tsig-keygen` prints and DNS providers
    /// hand out:
    ///
    /// ```text
    /// key "guss-update" {
    ///     algorithm hmac-sha256;
    ///     secret "base64…";
    /// };
    /// ```
    pub fn from_bind_config(text: &str) -> Result<Self, DnsError> {
        let invalid = |reason: &str| DnsError::Invalid {
            field: "TSIG key",
            reason: reason.to_owned(),
        };
        let after = |keyword: &str| -> Option<String> {
            let start = text.find(keyword)? + keyword.len();
            let rest = text.get(start..)?.trim_start();
            let end = rest.find([';', '{'])?;
            Some(rest.get(..end)?.trim().trim_matches('"').to_owned())
        };
        let name = after("key ").ok_or_else(|| invalid("no `key \"NAME\" {` line"))?;
        let algorithm = after("algorithm ").ok_or_else(|| invalid("no `algorithm` line"))?;
        let secret = after("secret ").ok_or_else(|| invalid("no `secret` line"))?;
        let secret = base64::engine::general_purpose::STANDARD
            .decode(secret.as_bytes())
            .map_err(|_| invalid("the secret is not base64"))?;
        if name.is_empty() || secret.is_empty() {
            return Err(invalid("the name or the secret is empty"));
        }
        Ok(Self {
            name,
            algorithm: algorithm.parse()?,
            secret,
        })
    }
}

/// The HMAC algorithm of a [`TsigKey`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TsigAlgorithm {
    /// `hmac-sha256`, what `tsig-keygen` makes by default.
    #[default]
    HmacSha256,
    /// `hmac-sha384`.
    HmacSha384,
    /// `hmac-sha512`.
    HmacSha512,
}

impl FromStr for TsigAlgorithm {
    type Err = DnsError;

    fn from_str(s: &str) -> Result<Self, DnsError> {
        match bare(s).to_ascii_lowercase().as_str() {
            "hmac-sha256" => Ok(Self::HmacSha256),
            "hmac-sha384" => Ok(Self::HmacSha384),
            "hmac-sha512" => Ok(Self::HmacSha512),
            other => Err(DnsError::Invalid {
                field: "TSIG algorithm",
                reason: format!("{other:?} is not hmac-sha256, hmac-sha384 or hmac-sha512"),
            }),
        }
    }
}

impl From<TsigAlgorithm> for dns_update::TsigAlgorithm {
    fn from(algorithm: TsigAlgorithm) -> Self {
        match algorithm {
            TsigAlgorithm::HmacSha256 => Self::HmacSha256,
            TsigAlgorithm::HmacSha384 => Self::HmacSha384,
            TsigAlgorithm::HmacSha512 => Self::HmacSha512,
        }
    }
}

/// What [`publish`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Published {
    /// The names and types whose records were written.
    pub changed: Vec<(String, RecordType)>,
    /// How many names and types already had the right records.
    pub unchanged: usize,
    /// How many stray SPF records were removed.
    pub spf_removed: usize,
}

/// Writes `records` to the authoritative server at `server` (over TCP) as
/// dynamic updates of `zone`, signed with `tsig`.
///
/// Each name and type is read first and left alone when it already holds
/// the right records, so publishing twice changes nothing the second time.
/// Otherwise its records are replaced (delete, then add). At a name with an
/// SPF record only the `v=spf1` records are replaced, so a stray second SPF
/// record goes and other TXT records there stay. A CNAME at a name that
/// needs records of its own is removed, and other records at a name that
/// needs a CNAME.
///
/// `dns-update` sends a replacement as two updates, a delete and then an
/// add, so for a moment the name has none of those records; names that are
/// already right are not touched.
///
/// Every record must lie inside `zone`; otherwise nothing is written.
pub async fn publish(
    records: &RecordSet,
    server: SocketAddr,
    zone: &str,
    tsig: &TsigKey,
) -> Result<Published, DnsError> {
    let zone = fqdn(zone);
    if let Some(outside) = records.iter().find(|r| !in_zone(&r.name, &zone)) {
        return Err(DnsError::OutsideZone {
            name: outside.name.clone(),
            zone,
        });
    }
    let updater = DnsUpdater::new_rfc2136_tsig(
        format!("tcp://{server}"),
        bare(&tsig.name),
        tsig.secret.clone(),
        tsig.algorithm.into(),
    )
    .map_err(|e| DnsError::Invalid {
        field: "TSIG key",
        reason: e.to_string(),
    })?;
    let update = Update {
        updater: &updater,
        zone: &zone,
    };

    let mut published = Published::default();
    for group in records.groups() {
        let changed = if group.is_spf() {
            update.spf(&group, &mut published.spf_removed).await?
        } else {
            update.replace(&group, records).await?
        };
        if changed {
            published
                .changed
                .push((group.name.clone(), group.record_type));
        } else {
            published.unchanged += 1;
        }
    }
    Ok(published)
}

struct Update<'a> {
    updater: &'a DnsUpdater,
    zone: &'a str,
}

impl Update<'_> {
    /// Replaces the records of a name and type, unless they are right already.
    async fn replace(&self, group: &Group<'_>, all: &RecordSet) -> Result<bool, DnsError> {
        let have = keys(&self.list(&group.name, group.record_type).await?);
        let want: BTreeSet<String> = group.records.iter().map(|r| r.data.key()).collect();
        if have == want {
            return Ok(false);
        }
        // Make room: a CNAME and other records cannot share a name.
        let ours_at_name: BTreeSet<RecordType> = all
            .iter()
            .filter(|r| r.name == group.name)
            .map(|r| r.record_type())
            .collect();
        let in_the_way: &[RecordType] = if group.record_type == RecordType::Cname {
            &[
                RecordType::A,
                RecordType::Aaaa,
                RecordType::Txt,
                RecordType::Mx,
            ]
        } else if group.name != self.zone {
            &[RecordType::Cname]
        } else {
            &[]
        };
        for record_type in in_the_way.iter().filter(|t| !ours_at_name.contains(t)) {
            self.set(&group.name, *record_type, 0, Vec::new()).await?;
        }
        let records = group
            .records
            .iter()
            .map(|r| to_update(&r.data))
            .collect::<Result<Vec<_>, _>>()?;
        self.set(&group.name, group.record_type, group.ttl(), records)
            .await?;
        Ok(true)
    }

    /// Makes the name hold exactly our SPF record, keeping its other TXT
    /// records.
    async fn spf(&self, group: &Group<'_>, removed: &mut usize) -> Result<bool, DnsError> {
        let name = &group.name;
        let want_spf: Vec<&RecordData> = group
            .records
            .iter()
            .map(|r| &r.data)
            .filter(|d| d.is_spf())
            .collect();
        let want_keys: BTreeSet<String> = want_spf.iter().map(|d| d.key()).collect();
        let want_other: Vec<&RecordData> = group
            .records
            .iter()
            .map(|r| &r.data)
            .filter(|d| !d.is_spf())
            .collect();

        let have = self.list(name, RecordType::Txt).await?;
        let have_keys = keys(&have);
        let strays: Vec<&RecordData> = have
            .iter()
            .filter(|d| d.is_spf() && !want_keys.contains(&d.key()))
            .collect();
        let to_add: Vec<&RecordData> = want_spf
            .iter()
            .chain(&want_other)
            .filter(|d| !have_keys.contains(&d.key()))
            .copied()
            .collect();
        if strays.is_empty() && to_add.is_empty() {
            return Ok(false);
        }
        if name != self.zone {
            self.set(name, RecordType::Cname, 0, Vec::new()).await?;
        }
        if !strays.is_empty() {
            let strays = strays
                .iter()
                .map(|d| to_update(d))
                .collect::<Result<Vec<_>, _>>()?;
            *removed += strays.len();
            self.step(
                name,
                RecordType::Txt,
                self.updater
                    .remove_from_rrset(name, DnsRecordType::TXT, strays, self.zone),
            )
            .await?;
        }
        if !to_add.is_empty() {
            let to_add = to_add
                .iter()
                .map(|d| to_update(d))
                .collect::<Result<Vec<_>, _>>()?;
            self.step(
                name,
                RecordType::Txt,
                self.updater
                    .add_to_rrset(name, DnsRecordType::TXT, group.ttl(), to_add, self.zone),
            )
            .await?;
        }

        // Removing a record needs its exact strings; a stray split into
        // strings differently than we would split it survives. Then the
        // whole TXT set is rewritten, with the other records kept.
        let after = self.list(name, RecordType::Txt).await?;
        let spf_after: Vec<&RecordData> = after.iter().filter(|d| d.is_spf()).collect();
        let right = spf_after.len() == want_spf.len()
            && spf_after.iter().all(|d| want_keys.contains(&d.key()));
        if !right {
            let keep = after
                .iter()
                .filter(|d| !d.is_spf())
                .chain(want_spf.iter().copied())
                .map(to_update)
                .collect::<Result<Vec<_>, _>>()?;
            self.set(name, RecordType::Txt, group.ttl(), keep).await?;
        }
        Ok(true)
    }

    /// The records the server holds for a name and type.
    async fn list(&self, name: &str, record_type: RecordType) -> Result<Vec<RecordData>, DnsError> {
        let records = self
            .step(
                name,
                record_type,
                self.updater
                    .list_rrset(name, update_type(record_type), self.zone),
            )
            .await?;
        Ok(records.into_iter().filter_map(from_update).collect())
    }

    /// Replaces a name's records of one type (none: deletes them).
    async fn set(
        &self,
        name: &str,
        record_type: RecordType,
        ttl: u32,
        records: Vec<DnsRecord>,
    ) -> Result<(), DnsError> {
        self.step(
            name,
            record_type,
            self.updater
                .set_rrset(name, update_type(record_type), ttl, records, self.zone),
        )
        .await
    }

    async fn step<T>(
        &self,
        name: &str,
        record_type: RecordType,
        step: impl Future<Output = dns_update::Result<T>>,
    ) -> Result<T, DnsError> {
        let error = |message: String| DnsError::Update {
            name: name.to_owned(),
            record_type,
            message,
        };
        match tokio::time::timeout(STEP_TIMEOUT, step).await {
            Err(_) => Err(error(format!(
                "no answer within {} seconds",
                STEP_TIMEOUT.as_secs()
            ))),
            Ok(Err(e)) => Err(error(e.to_string())),
            Ok(Ok(value)) => Ok(value),
        }
    }
}

fn keys(records: &[RecordData]) -> BTreeSet<String> {
    records.iter().map(RecordData::key).collect()
}

fn update_type(record_type: RecordType) -> DnsRecordType {
    match record_type {
        RecordType::A => DnsRecordType::A,
        RecordType::Aaaa => DnsRecordType::AAAA,
        RecordType::Cname => DnsRecordType::CNAME,
        RecordType::Mx => DnsRecordType::MX,
        RecordType::Txt => DnsRecordType::TXT,
        RecordType::Srv => DnsRecordType::SRV,
        RecordType::Caa => DnsRecordType::CAA,
    }
}

fn to_update(data: &RecordData) -> Result<DnsRecord, DnsError> {
    Ok(match data {
        RecordData::A(ip) => DnsRecord::A(*ip),
        RecordData::Aaaa(ip) => DnsRecord::AAAA(*ip),
        RecordData::Cname(target) => DnsRecord::CNAME(fqdn(target)),
        RecordData::Mx {
            preference,
            exchange,
        } => DnsRecord::MX(MXRecord {
            exchange: fqdn(exchange),
            priority: *preference,
        }),
        RecordData::Txt(text) => DnsRecord::TXT(text.clone()),
        RecordData::Srv {
            priority,
            weight,
            port,
            target,
        } => DnsRecord::SRV(SRVRecord {
            target: fqdn(target),
            priority: *priority,
            weight: *weight,
            port: *port,
        }),
        RecordData::Caa { flags, tag, value } => {
            let issuer_critical = flags & 0x80 != 0;
            let (issuer, options) = split_caa_issue(value);
            DnsRecord::CAA(match tag.to_ascii_lowercase().as_str() {
                "issue" => CAARecord::Issue {
                    issuer_critical,
                    name: issuer,
                    options,
                },
                "issuewild" => CAARecord::IssueWild {
                    issuer_critical,
                    name: issuer,
                    options,
                },
                "iodef" => CAARecord::Iodef {
                    issuer_critical,
                    url: value.trim().to_owned(),
                },
                other => {
                    return Err(DnsError::Invalid {
                        field: "CAA record",
                        reason: format!("the tag {other:?} cannot be published"),
                    });
                }
            })
        }
    })
}

/// `letsencrypt.org; accounturi=…` → issuer and parameters (RFC 8659 §4.2).
fn split_caa_issue(value: &str) -> (Option<String>, Vec<KeyValue>) {
    let mut parts = value.split(';');
    let issuer = parts
        .next()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned);
    let options = parts
        .filter_map(|part| {
            let (key, value) = part.split_once('=')?;
            Some(KeyValue {
                key: key.trim().to_owned(),
                value: value.trim().to_owned(),
            })
        })
        .collect();
    (issuer, options)
}

fn from_update(record: DnsRecord) -> Option<RecordData> {
    Some(match record {
        DnsRecord::A(ip) => RecordData::A(ip),
        DnsRecord::AAAA(ip) => RecordData::Aaaa(ip),
        DnsRecord::CNAME(target) => RecordData::Cname(fqdn(&target)),
        DnsRecord::MX(mx) => RecordData::Mx {
            preference: mx.priority,
            exchange: fqdn(&mx.exchange),
        },
        DnsRecord::TXT(text) => RecordData::Txt(text),
        DnsRecord::SRV(srv) => RecordData::Srv {
            priority: srv.priority,
            weight: srv.weight,
            port: srv.port,
            target: fqdn(&srv.target),
        },
        DnsRecord::CAA(caa) => {
            let (flags, tag, value) = match caa {
                CAARecord::Issue {
                    issuer_critical,
                    name,
                    options,
                } => (issuer_critical, "issue", join_caa_issue(name, &options)),
                CAARecord::IssueWild {
                    issuer_critical,
                    name,
                    options,
                } => (issuer_critical, "issuewild", join_caa_issue(name, &options)),
                CAARecord::Iodef {
                    issuer_critical,
                    url,
                } => (issuer_critical, "iodef", url),
            };
            RecordData::Caa {
                flags: if flags { 0x80 } else { 0 },
                tag: tag.to_owned(),
                value,
            }
        }
        _ => return None,
    })
}

fn join_caa_issue(name: Option<String>, options: &[KeyValue]) -> String {
    let mut value = name.map(|n| bare(&n).to_owned()).unwrap_or_default();
    for option in options {
        value.push_str(&format!("; {}={}", option.key, option.value));
    }
    value
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bind_key_files_are_read() {
        let key = TsigKey::from_bind_config(
            "key \"guss-update\" {\n\talgorithm hmac-sha512;\n\tsecret \"c2VjcmV0\";\n};\n",
        )
        .unwrap();
        assert_eq!(key.name, "guss-update");
        assert_eq!(key.algorithm, TsigAlgorithm::HmacSha512);
        assert_eq!(key.secret, b"secret");
        assert!(!format!("{key:?}").contains("c2VjcmV0"));
        assert!(!format!("{key:?}").contains("secret\""));

        assert!(
            TsigKey::from_bind_config("key \"k\" { algorithm hmac-md5; secret \"c2VjcmV0\"; };")
                .is_err()
        );
        assert!(
            TsigKey::from_bind_config("key \"k\" { algorithm hmac-sha256; secret \"!!\"; };")
                .is_err()
        );
        assert!(TsigKey::from_bind_config("").is_err());
    }

    #[test]
    fn records_convert_both_ways() {
        for data in [
            RecordData::A("192.0.2.1".parse().unwrap()),
            RecordData::Aaaa("2001:db8::1".parse().unwrap()),
            RecordData::Cname("web.example.test.".into()),
            RecordData::Mx {
                preference: 10,
                exchange: "mail.example.test.".into(),
            },
            RecordData::Txt("v=spf1 mx -all".into()),
            RecordData::Srv {
                priority: 0,
                weight: 0,
                port: 0,
                target: ".".into(),
            },
            RecordData::Caa {
                flags: 0,
                tag: "issue".into(),
                value: "letsencrypt.org".into(),
            },
            RecordData::Caa {
                flags: 128,
                tag: "issue".into(),
                value: "ca.example; account=42".into(),
            },
        ] {
            let back = from_update(to_update(&data).unwrap()).unwrap();
            assert_eq!(back.key(), data.key(), "{data:?}");
        }
        assert!(
            to_update(&RecordData::Caa {
                flags: 0,
                tag: "contactemail".into(),
                value: "x".into()
            })
            .is_err()
        );
    }
}
