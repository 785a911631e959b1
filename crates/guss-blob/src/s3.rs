//! Blobs as objects in an S3-compatible store (through object_store).
//! Put-if-absent is a conditional PUT (`If-None-Match: *`).

use std::ops::Range;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use futures::TryStreamExt as _;
use object_store::aws::AmazonS3Builder;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt as _, PutMode, PutOptions, PutPayload};

use crate::{BlobKey, BlobStore, Error, MAX_LIST, Result, check_range};

/// Where and how to reach the bucket.
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct S3Config {
    /// The endpoint, e.g. `https://s3.eu-central-1.amazonaws.com` or a local server.
    pub endpoint: String,
    /// The bucket.
    pub bucket: String,
    /// The region.
    pub region: String,
    /// Access key id.
    pub access_key: String,
    /// Secret access key.
    pub secret_key: String,
    /// Key prefix inside the bucket (several installations can share one).
    pub prefix: String,
}

impl S3Config {
    /// A configuration for `bucket` at `endpoint`.
    pub fn new(endpoint: &str, bucket: &str, access_key: &str, secret_key: &str) -> Self {
        S3Config {
            endpoint: endpoint.to_owned(),
            bucket: bucket.to_owned(),
            region: "us-east-1".to_owned(),
            access_key: access_key.to_owned(),
            secret_key: secret_key.to_owned(),
            prefix: String::new(),
        }
    }

    /// The configuration a URL names: `http(s)://ACCESS_KEY:SECRET@HOST:PORT/BUCKET`
    /// (how the examples and the bundle's command line take it).
    ///
    /// ```
    /// let config = guss_blob::S3Config::from_url("http://key:secret@127.0.0.1:9000/mail")?;
    /// assert_eq!((config.endpoint.as_str(), config.bucket.as_str()), ("http://127.0.0.1:9000", "mail"));
    /// assert!(guss_blob::S3Config::from_url("http://127.0.0.1:9000/").is_err());
    /// # Ok::<(), guss_blob::Error>(())
    /// ```
    pub fn from_url(url: &str) -> Result<Self> {
        const SHAPE: Error = Error::Invalid {
            what: "S3 URL",
            why: "expected http(s)://ACCESS_KEY:SECRET@HOST:PORT/BUCKET",
        };
        let parsed = url::Url::parse(url).map_err(|_| SHAPE)?;
        let bucket = parsed.path().trim_matches('/');
        if bucket.is_empty() || parsed.username().is_empty() || parsed.host_str().is_none() {
            return Err(SHAPE);
        }
        let endpoint = format!(
            "{}://{}{}",
            parsed.scheme(),
            parsed.host_str().unwrap_or_default(),
            parsed.port().map(|p| format!(":{p}")).unwrap_or_default()
        );
        Ok(S3Config::new(
            &endpoint,
            bucket,
            parsed.username(),
            parsed.password().unwrap_or_default(),
        ))
    }

    /// The same with keys below `prefix`.
    #[must_use]
    pub fn with_prefix(mut self, prefix: &str) -> Self {
        self.prefix = prefix.trim_matches('/').to_owned();
        self
    }
}

/// Blobs in an S3 bucket.
#[derive(Clone, Debug)]
pub struct S3BlobStore {
    store: Arc<dyn ObjectStore>,
    prefix: String,
}

impl S3BlobStore {
    /// Connects (lazily) to the bucket.
    pub fn new(config: &S3Config) -> Result<Self> {
        let store = AmazonS3Builder::new()
            .with_endpoint(&config.endpoint)
            .with_bucket_name(&config.bucket)
            .with_region(&config.region)
            .with_access_key_id(&config.access_key)
            .with_secret_access_key(&config.secret_key)
            .with_allow_http(config.endpoint.starts_with("http://"))
            .with_virtual_hosted_style_request(false)
            .build()
            .map_err(Error::backend)?;
        Ok(S3BlobStore {
            store: Arc::new(store),
            prefix: config.prefix.clone(),
        })
    }

    fn path(&self, key: &str) -> Path {
        if self.prefix.is_empty() {
            Path::from(key)
        } else {
            Path::from(format!("{}/{key}", self.prefix))
        }
    }

    fn key_of(&self, path: &Path) -> Option<String> {
        let path = path.as_ref();
        if self.prefix.is_empty() {
            Some(path.to_owned())
        } else {
            path.strip_prefix(&format!("{}/", self.prefix))
                .map(str::to_owned)
        }
    }
}

fn missing(e: &object_store::Error) -> bool {
    matches!(e, object_store::Error::NotFound { .. })
}

#[async_trait]
impl BlobStore for S3BlobStore {
    async fn put_if_absent(&self, key: &BlobKey, data: Bytes) -> Result<bool> {
        let options = PutOptions {
            mode: PutMode::Create,
            ..PutOptions::default()
        };
        match self
            .store
            .put_opts(&self.path(key.as_str()), PutPayload::from(data), options)
            .await
        {
            Ok(_) => Ok(true),
            Err(
                object_store::Error::AlreadyExists { .. }
                | object_store::Error::Precondition { .. },
            ) => Ok(false),
            Err(e) => Err(Error::backend(e)),
        }
    }

    async fn get(&self, key: &BlobKey) -> Result<Option<Bytes>> {
        match self.store.get(&self.path(key.as_str())).await {
            Ok(result) => Ok(Some(result.bytes().await.map_err(Error::backend)?)),
            Err(e) if missing(&e) => Ok(None),
            Err(e) => Err(Error::backend(e)),
        }
    }

    async fn get_range(&self, key: &BlobKey, range: Range<u64>) -> Result<Option<Bytes>> {
        check_range(&range)?;
        let path = self.path(key.as_str());
        let size = match self.store.head(&path).await {
            Ok(meta) => meta.size,
            Err(e) if missing(&e) => return Ok(None),
            Err(e) => return Err(Error::backend(e)),
        };
        let (start, end) = (range.start.min(size), range.end.min(size));
        if start == end {
            return Ok(Some(Bytes::new()));
        }
        match self.store.get_range(&path, start..end).await {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if missing(&e) => Ok(None),
            Err(e) => Err(Error::backend(e)),
        }
    }

    async fn list(
        &self,
        prefix: &str,
        after: Option<&BlobKey>,
        limit: usize,
    ) -> Result<Vec<BlobKey>> {
        MAX_LIST.check_len(limit)?;
        // object_store lists whole segments: list the prefix's directory, filter the rest.
        let directory = prefix
            .rfind('/')
            .map(|i| prefix.get(..i).unwrap_or_default());
        let base = directory
            .map(|d| self.path(d))
            .or_else(|| (!self.prefix.is_empty()).then(|| Path::from(self.prefix.as_str())));
        let mut stream = match after {
            Some(after) => self
                .store
                .list_with_offset(base.as_ref(), &self.path(after.as_str())),
            None => self.store.list(base.as_ref()),
        };
        let mut keys = Vec::new();
        // S3 lists in key order: stop once the page is full, memory stays bounded.
        while keys.len() < limit
            && let Some(meta) = stream.try_next().await.map_err(Error::backend)?
        {
            if let Some(key) = self
                .key_of(&meta.location)
                .filter(|k| k.starts_with(prefix))
            {
                keys.push(key);
            }
        }
        keys.sort();
        keys.into_iter().map(BlobKey::new).collect()
    }

    async fn delete(&self, key: &BlobKey) -> Result<bool> {
        let path = self.path(key.as_str());
        match self.store.head(&path).await {
            Ok(_) => {}
            Err(e) if missing(&e) => return Ok(false),
            Err(e) => return Err(Error::backend(e)),
        }
        self.store.delete(&path).await.map_err(Error::backend)?;
        Ok(true)
    }
}
