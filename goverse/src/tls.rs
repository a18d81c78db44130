//! TLS for the node service and the gate's listeners: PEM files read with rustls (ring).
//!
//! A listener is configured by a [`TlsFiles`] pair: the certificate chain and the private key,
//! both PEM. Peers trust a CA file ([`NodeBuilder::tls_ca`](crate::NodeBuilder::tls_ca)). When a
//! node has both its own certificate and a CA file, node-to-node connections are **mutual**
//! TLS: the node service only accepts clients that present a certificate signed by that CA, and
//! the node presents its own certificate to its peers. Errors name the file and what is wrong
//! with it.

#[cfg(feature = "etcd")]
use std::path::Path;
use std::path::PathBuf;
#[cfg(feature = "gate")]
use std::sync::Arc;

#[cfg(feature = "etcd")]
use rustls::pki_types::pem::PemObject;
#[cfg(feature = "etcd")]
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

#[cfg(feature = "etcd")]
use crate::error::{Error, Result};

/// The certificate chain and private key a listener presents, as PEM file paths.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// PEM file with the certificate chain, leaf first.
    pub cert_path: PathBuf,
    /// PEM file with the private key (PKCS#8, PKCS#1 or SEC1).
    pub key_path: PathBuf,
}

impl TlsFiles {
    /// The pair of files.
    pub fn new(cert_path: impl Into<PathBuf>, key_path: impl Into<PathBuf>) -> Self {
        TlsFiles {
            cert_path: cert_path.into(),
            key_path: key_path.into(),
        }
    }

    #[cfg(feature = "etcd")]
    /// Reads both files and checks that they parse; the PEM bytes of the chain and the key.
    fn read(&self) -> Result<(Vec<u8>, Vec<u8>)> {
        let cert = read_file(&self.cert_path, "TLS certificate")?;
        certificates(&cert, &self.cert_path)?;
        let key = read_file(&self.key_path, "TLS private key")?;
        private_key(&key, &self.key_path)?;
        Ok((cert, key))
    }
}

#[cfg(feature = "etcd")]
fn read_file(path: &Path, what: &str) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| {
        Error::invalid_argument(format!(
            "{what} file {}: cannot read it: {e}",
            path.display()
        ))
    })
}

#[cfg(feature = "etcd")]
fn certificates(pem: &[u8], path: &Path) -> Result<Vec<CertificateDer<'static>>> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| {
            Error::invalid_argument(format!(
                "TLS certificate file {}: not valid PEM: {e}",
                path.display()
            ))
        })?;
    if certs.is_empty() {
        return Err(Error::invalid_argument(format!(
            "TLS certificate file {}: holds no CERTIFICATE block",
            path.display()
        )));
    }
    Ok(certs)
}

#[cfg(feature = "etcd")]
fn private_key(pem: &[u8], path: &Path) -> Result<PrivateKeyDer<'static>> {
    PrivateKeyDer::from_pem_slice(pem).map_err(|e| {
        Error::invalid_argument(format!(
            "TLS private key file {}: no usable PRIVATE KEY block: {e}",
            path.display()
        ))
    })
}

#[cfg(feature = "gate")]
/// The rustls server configuration of `files` (ring provider, TLS 1.2 and 1.3), offering
/// HTTP/2 and HTTP/1.1 by ALPN.
pub(crate) fn server_config(files: &TlsFiles) -> Result<Arc<rustls::ServerConfig>> {
    let cert = read_file(&files.cert_path, "TLS certificate")?;
    let chain = certificates(&cert, &files.cert_path)?;
    let key = read_file(&files.key_path, "TLS private key")?;
    let key = private_key(&key, &files.key_path)?;
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| Error::internal(format!("TLS protocol versions: {e}")))?
    .with_no_client_auth()
    .with_single_cert(chain, key)
    .map_err(|e| {
        Error::invalid_argument(format!(
            "TLS files {} and {}: {e}",
            files.cert_path.display(),
            files.key_path.display()
        ))
    })?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

#[cfg(feature = "gate")]
/// A TLS acceptor for a listener that serves `files` (the gate's HTTP server wraps each
/// accepted TCP stream with it).
pub(crate) fn tls_acceptor(files: &TlsFiles) -> Result<tokio_rustls::TlsAcceptor> {
    Ok(tokio_rustls::TlsAcceptor::from(server_config(files)?))
}

#[cfg(feature = "etcd")]
/// The tonic server TLS configuration of `files`; with `client_ca`, clients must present a
/// certificate signed by it (mutual TLS).
pub(crate) fn grpc_server_tls(
    files: &TlsFiles,
    client_ca: Option<&Path>,
) -> Result<tonic::transport::ServerTlsConfig> {
    let (cert, key) = files.read()?;
    let mut config = tonic::transport::ServerTlsConfig::new()
        .identity(tonic::transport::Identity::from_pem(cert, key));
    if let Some(ca) = client_ca {
        config = config.client_ca_root(ca_certificate(ca)?);
    }
    Ok(config)
}

#[cfg(feature = "etcd")]
fn ca_certificate(path: &Path) -> Result<tonic::transport::Certificate> {
    let pem = read_file(path, "TLS CA certificate")?;
    certificates(&pem, path)?;
    Ok(tonic::transport::Certificate::from_pem(pem))
}

#[cfg(feature = "etcd")]
/// The tonic client TLS configuration that trusts the CA in `ca`; with `identity`, the client
/// presents that certificate (mutual TLS).
pub(crate) fn grpc_client_tls(
    ca: &Path,
    identity: Option<&TlsFiles>,
) -> Result<tonic::transport::ClientTlsConfig> {
    let mut config = tonic::transport::ClientTlsConfig::new().ca_certificate(ca_certificate(ca)?);
    if let Some(files) = identity {
        let (cert, key) = files.read()?;
        config = config.identity(tonic::transport::Identity::from_pem(cert, key));
    }
    Ok(config)
}

#[cfg(feature = "etcd")]
/// How the node service and its clients secure node-to-node traffic.
#[derive(Debug, Clone, Default)]
pub(crate) struct NodeTls {
    /// The node service's certificate and key (the service speaks TLS when set).
    pub(crate) files: Option<TlsFiles>,
    /// The CA that peers' certificates are checked against (clients use TLS when set).
    pub(crate) ca: Option<PathBuf>,
}

#[cfg(feature = "etcd")]
impl NodeTls {
    /// The server side: TLS when the node has a certificate; mutual when it also has a CA.
    pub(crate) fn server(&self) -> Result<Option<tonic::transport::ServerTlsConfig>> {
        self.files
            .as_ref()
            .map(|files| grpc_server_tls(files, self.ca.as_deref()))
            .transpose()
    }

    /// The client side: TLS when the node trusts a CA; presenting its own certificate if any.
    pub(crate) fn client(&self) -> Result<Option<tonic::transport::ClientTlsConfig>> {
        self.ca
            .as_deref()
            .map(|ca| grpc_client_tls(ca, self.files.as_ref()))
            .transpose()
    }
}

#[cfg(all(test, feature = "gate"))]
mod tests {
    use super::*;

    /// Writes a self-signed certificate for 127.0.0.1 and its key; returns the files.
    fn self_signed(dir: &Path) -> TlsFiles {
        let key = rcgen::KeyPair::generate().unwrap();
        let params = rcgen::CertificateParams::new(vec!["127.0.0.1".to_string()]).unwrap();
        let cert = params.self_signed(&key).unwrap();
        let files = TlsFiles::new(dir.join("cert.pem"), dir.join("key.pem"));
        std::fs::write(&files.cert_path, cert.pem()).unwrap();
        std::fs::write(&files.key_path, key.serialize_pem()).unwrap();
        files
    }

    #[tokio::test]
    async fn the_acceptor_completes_a_handshake() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let dir = std::env::temp_dir().join(format!("goverse-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let files = self_signed(&dir);
        let acceptor = tls_acceptor(&files).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let (stream, _) = listener.accept().await.unwrap();
            let mut stream = acceptor.accept(stream).await.unwrap();
            stream.write_all(b"hello").await.unwrap();
            stream.shutdown().await.unwrap();
        });
        let mut roots = rustls::RootCertStore::empty();
        for cert in
            certificates(&std::fs::read(&files.cert_path).unwrap(), &files.cert_path).unwrap()
        {
            roots.add(cert).unwrap();
        }
        let config = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
        let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
        let tcp = tokio::net::TcpStream::connect(address).await.unwrap();
        let name = rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap();
        let mut stream = connector.connect(name, tcp).await.unwrap();
        let mut received = String::new();
        stream.read_to_string(&mut received).await.unwrap();
        assert_eq!(received, "hello");
        server.await.unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn errors_name_the_file() {
        let missing = TlsFiles::new("/nonexistent/c.pem", "/nonexistent/k.pem");
        let error = tls_acceptor(&missing).err().unwrap();
        assert!(error.message().contains("/nonexistent/c.pem"), "{error}");
        let dir = std::env::temp_dir().join(format!("goverse-tls-bad-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut files = self_signed(&dir);
        std::fs::write(dir.join("bad.pem"), "no key here").unwrap();
        files.key_path = dir.join("bad.pem");
        let error = tls_acceptor(&files).err().unwrap();
        assert!(error.message().contains("bad.pem"), "{error}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
