//! TLS for the listeners: a certificate from PEM files, or a self-signed
//! one for trials and tests.

use std::sync::Arc;

use rustls::ServerConfig;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio_rustls::TlsAcceptor;

use crate::{Error, Result};

/// A TLS acceptor for `certificate_chain` (PEM) and its `private_key` (PEM).
pub fn acceptor_from_pem(certificate_chain: &[u8], private_key: &[u8]) -> Result<TlsAcceptor> {
    let chain = CertificateDer::pem_slice_iter(certificate_chain)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| Error::invalid("certificate", e.to_string()))?;
    let key = PrivateKeyDer::from_pem_slice(private_key)
        .map_err(|e| Error::invalid("private key", e.to_string()))?;
    acceptor(chain, key)
}

/// A TLS acceptor with a fresh self-signed certificate for `hostname`.
pub fn self_signed(hostname: &str) -> Result<TlsAcceptor> {
    let certified = rcgen::generate_simple_self_signed(vec![hostname.to_owned()])
        .map_err(|e| Error::invalid("host name", e.to_string()))?;
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
        certified.signing_key.serialize_der(),
    ));
    acceptor(vec![certified.cert.der().clone()], key)
}

fn acceptor(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> Result<TlsAcceptor> {
    let config =
        ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .map_err(|e| Error::invalid("TLS configuration", e.to_string()))?
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .map_err(|e| Error::invalid("certificate", e.to_string()))?;
    Ok(TlsAcceptor::from(Arc::new(config)))
}
