//! Signing configuration profiles: CMS `SignedData` (RFC 5652) around the
//! property list, as Apple devices expect and as `openssl smime -sign
//! -outform DER -nodetach` would produce.
//!
//! The ASN.1 structures come from the `cms` and `x509-cert` crates; the
//! signature itself is made by ring through rustls's signing keys, which read
//! PKCS#8, PKCS#1 (RSA) and SEC1 (EC) private keys.

use std::fmt;
use std::sync::Arc;

use cms::cert::{CertificateChoices, IssuerAndSerialNumber};
use cms::content_info::{CmsVersion, ContentInfo};
use cms::signed_data::{
    CertificateSet, EncapsulatedContentInfo, SignedData, SignerIdentifier, SignerInfo, SignerInfos,
};
use guss_core::Limit;
use rustls::sign::SigningKey;
use rustls::{SignatureAlgorithm, SignatureScheme};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use x509_cert::Certificate;
use x509_cert::attr::Attribute;
use x509_cert::der::asn1::{ObjectIdentifier, OctetString, SetOfVec};
use x509_cert::der::{Any, Decode, Encode};
use x509_cert::spki::AlgorithmIdentifierOwned;

use super::{Error, check_limit};

/// Largest PEM input accepted for a certificate chain or a key.
const MAX_PEM: Limit = Limit::new("PEM input size in bytes", 256 * 1024);
/// Most certificates accepted in a chain.
const MAX_CHAIN: Limit = Limit::new("certificates in the chain", 10);

// RFC 5652 §4, §5.1, §11.1 and §11.2.
const ID_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.1");
const ID_SIGNED_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.2");
const ID_CONTENT_TYPE: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.3");
const ID_MESSAGE_DIGEST: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.4");
// RFC 5754 §2 (digests; parameters absent) and §3.2, RFC 3370 §3.2 (RSA
// signatures named rsaEncryption with NULL parameters, as OpenSSL writes).
const ID_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1");
const ID_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.2");
const RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const ECDSA_WITH_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");
const ECDSA_WITH_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.3");

/// A certificate chain and its private key, for signing configuration
/// profiles (and other content) as CMS `SignedData`.
///
/// RSA and ECDSA (P-256, P-384) keys are supported: those Apple devices
/// verify. The first certificate must belong to the key; the rest of the
/// chain is embedded so that the device can build the path to a root it
/// trusts. A web server certificate for the domain, such as the one from
/// ACME, is the usual choice.
///
/// ```
/// use guss_mail::autoconfig::ProfileSigner;
///
/// let certified = rcgen::generate_simple_self_signed(vec!["guss.kanzlei.example".into()]).unwrap();
/// let signer = ProfileSigner::from_pem(
///     certified.cert.pem().as_bytes(),
///     certified.signing_key.serialize_pem().as_bytes(),
/// )?;
/// let signed = signer.sign(b"<plist/>")?;
/// assert_eq!(signed.first(), Some(&0x30)); // a DER SEQUENCE
///
/// let other = rcgen::generate_simple_self_signed(vec!["other.example".into()]).unwrap();
/// let mismatched = ProfileSigner::from_pem(
///     certified.cert.pem().as_bytes(),
///     other.signing_key.serialize_pem().as_bytes(),
/// );
/// assert!(mismatched.is_err());
/// # Ok::<(), guss_mail::autoconfig::Error>(())
/// ```
#[derive(Clone)]
pub struct ProfileSigner {
    /// Signer's certificate first, then the rest of the chain.
    certificates: Vec<Certificate>,
    key: Arc<dyn SigningKey>,
    scheme: SignatureScheme,
}

impl fmt::Debug for ProfileSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let subject = self
            .certificates
            .first()
            .map(|c| c.tbs_certificate.subject.to_string());
        f.debug_struct("ProfileSigner")
            .field("subject", &subject)
            .field("chain_length", &self.certificates.len())
            .field("scheme", &self.scheme)
            .finish_non_exhaustive()
    }
}

impl ProfileSigner {
    /// A signer from a PEM certificate chain (signer's certificate first)
    /// and a PEM private key (PKCS#8, PKCS#1 or SEC1). Sections of other
    /// kinds are skipped, so one file holding both works for both arguments.
    pub fn from_pem(certificate_chain: &[u8], private_key: &[u8]) -> Result<Self, Error> {
        check_limit(MAX_PEM, certificate_chain.len())?;
        check_limit(MAX_PEM, private_key.len())?;
        let mut chain = Vec::new();
        for certificate in CertificateDer::pem_slice_iter(certificate_chain) {
            let certificate =
                certificate.map_err(|e| Error::signing(format!("certificate chain: {e}")))?;
            chain.push(certificate);
            check_limit(MAX_CHAIN, chain.len())?;
        }
        let key = PrivateKeyDer::from_pem_slice(private_key)
            .map_err(|e| Error::signing(format!("private key: {e}")))?;
        let chain: Vec<&[u8]> = chain.iter().map(|c| c.as_ref()).collect();
        Self::from_der(&chain, &key)
    }

    /// A signer from DER certificates (signer's first) and a DER private key.
    pub fn from_der(
        certificate_chain: &[&[u8]],
        private_key: &PrivateKeyDer<'_>,
    ) -> Result<Self, Error> {
        check_limit(MAX_CHAIN, certificate_chain.len())?;
        let mut certificates: Vec<Certificate> = Vec::new();
        for der in certificate_chain {
            let certificate = Certificate::from_der(der)
                .map_err(|e| Error::signing(format!("certificate: {e}")))?;
            // A SET OF must not hold duplicates; drop repeated certificates.
            if !certificates.contains(&certificate) {
                certificates.push(certificate);
            }
        }
        let leaf = certificates
            .first()
            .ok_or_else(|| Error::signing("no certificate given"))?;
        let key = rustls::crypto::ring::sign::any_supported_type(private_key)
            .map_err(|e| Error::signing(format!("private key: {e}")))?;
        let scheme = match key.algorithm() {
            SignatureAlgorithm::RSA => SignatureScheme::RSA_PKCS1_SHA256,
            SignatureAlgorithm::ECDSA => [
                SignatureScheme::ECDSA_NISTP256_SHA256,
                SignatureScheme::ECDSA_NISTP384_SHA384,
            ]
            .into_iter()
            .find(|scheme| key.choose_scheme(&[*scheme]).is_some())
            .ok_or_else(|| Error::signing("only P-256 and P-384 ECDSA keys are supported"))?,
            _ => {
                return Err(Error::signing(
                    "only RSA and ECDSA keys are supported (Apple devices verify those)",
                ));
            }
        };
        let key_spki = key
            .public_key()
            .ok_or_else(|| Error::signing("the key's public half is unknown"))?;
        let certificate_spki = leaf
            .tbs_certificate
            .subject_public_key_info
            .to_der()
            .map_err(|e| Error::signing(format!("certificate: {e}")))?;
        if key_spki.as_ref() != certificate_spki.as_slice() {
            return Err(Error::signing(
                "the private key does not belong to the first certificate",
            ));
        }
        Ok(ProfileSigner {
            certificates,
            key,
            scheme,
        })
    }

    /// `content` wrapped in CMS `SignedData` (DER), with the content inside
    /// (not detached), the certificate chain, and the signed attributes
    /// content-type and message-digest (RFC 5652 §5.3, §11).
    pub fn sign(&self, content: &[u8]) -> Result<Vec<u8>, Error> {
        let leaf = self
            .certificates
            .first()
            .ok_or_else(|| Error::signing("no certificate given"))?;
        let (digest, digest_oid, signature_algorithm) = match self.scheme {
            SignatureScheme::ECDSA_NISTP256_SHA256 => (
                &ring::digest::SHA256,
                ID_SHA256,
                algorithm(ECDSA_WITH_SHA256, None),
            ),
            SignatureScheme::ECDSA_NISTP384_SHA384 => (
                &ring::digest::SHA384,
                ID_SHA384,
                algorithm(ECDSA_WITH_SHA384, None),
            ),
            _ => (
                &ring::digest::SHA256,
                ID_SHA256,
                algorithm(RSA_ENCRYPTION, Some(Any::null())),
            ),
        };
        let message_digest = ring::digest::digest(digest, content);

        let signed_attributes = SetOfVec::try_from(vec![
            attribute(
                ID_CONTENT_TYPE,
                Any::encode_from(&ID_DATA).map_err(der_error)?,
            )?,
            attribute(
                ID_MESSAGE_DIGEST,
                Any::encode_from(&OctetString::new(message_digest.as_ref()).map_err(der_error)?)
                    .map_err(der_error)?,
            )?,
        ])
        .map_err(der_error)?;
        // RFC 5652 §5.4: the signature covers the DER encoding of the
        // attributes as a SET OF (tag 0x31), not their [0] IMPLICIT form.
        let to_sign = signed_attributes.to_der().map_err(der_error)?;
        let signer = self
            .key
            .choose_scheme(&[self.scheme])
            .ok_or_else(|| Error::signing("the key cannot sign with its scheme"))?;
        let signature = signer
            .sign(&to_sign)
            .map_err(|e| Error::signing(e.to_string()))?;

        let signer_info = SignerInfo {
            version: CmsVersion::V1,
            sid: SignerIdentifier::IssuerAndSerialNumber(IssuerAndSerialNumber {
                issuer: leaf.tbs_certificate.issuer.clone(),
                serial_number: leaf.tbs_certificate.serial_number.clone(),
            }),
            digest_alg: algorithm(digest_oid, None),
            signed_attrs: Some(signed_attributes),
            signature_algorithm,
            signature: OctetString::new(signature).map_err(der_error)?,
            unsigned_attrs: None,
        };
        let certificates: Vec<CertificateChoices> = self
            .certificates
            .iter()
            .cloned()
            .map(CertificateChoices::Certificate)
            .collect();
        let signed_data = SignedData {
            // RFC 5652 §5.1: version 1 with issuer-and-serial signer ids,
            // X.509 certificates only and id-data content.
            version: CmsVersion::V1,
            digest_algorithms: SetOfVec::try_from(vec![algorithm(digest_oid, None)])
                .map_err(der_error)?,
            encap_content_info: EncapsulatedContentInfo {
                econtent_type: ID_DATA,
                econtent: Some(
                    Any::encode_from(&OctetString::new(content).map_err(der_error)?)
                        .map_err(der_error)?,
                ),
            },
            certificates: Some(CertificateSet::try_from(certificates).map_err(der_error)?),
            crls: None,
            signer_infos: SignerInfos::try_from(vec![signer_info]).map_err(der_error)?,
        };
        ContentInfo {
            content_type: ID_SIGNED_DATA,
            content: Any::encode_from(&signed_data).map_err(der_error)?,
        }
        .to_der()
        .map_err(der_error)
    }
}

fn algorithm(oid: ObjectIdentifier, parameters: Option<Any>) -> AlgorithmIdentifierOwned {
    AlgorithmIdentifierOwned { oid, parameters }
}

fn attribute(oid: ObjectIdentifier, value: Any) -> Result<Attribute, Error> {
    Ok(Attribute {
        oid,
        values: SetOfVec::try_from(vec![value]).map_err(der_error)?,
    })
}

fn der_error(e: x509_cert::der::Error) -> Error {
    Error::signing(format!("DER encoding: {e}"))
}
