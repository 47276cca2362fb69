//! S3DocumentStore: raw bytes and their encoding metadata.

use std::io::{Read, Write};

use spsync_aws::{AwsClients, S3DocumentStore};
use spsync_workflow::{DocumentMeta, DocumentStore, StoreError};

use super::support::{REGION, bucket, clients, endpoint};

const KEY: &str =
    "reports/A1/GET_FLAT_FILE_ALL_ORDERS_DATA_BY_ORDER_DATE_GENERAL/2026-11-20/5012.raw";

async fn store() -> S3DocumentStore {
    let clients = clients().await;
    let bucket = bucket(&clients).await;
    S3DocumentStore::new(clients.s3, bucket)
}

fn gzip(text: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(text).unwrap();
    encoder.finish().unwrap()
}

#[tokio::test]
async fn a_gzip_document_comes_back_compressed_with_its_metadata() {
    let store = store().await;
    let text = "amazon-order-id\tpurchase-date\n111-0000000-0000001\t2026-11-20T10:00:00+00:00\n";
    let body = gzip(text.as_bytes());
    let meta = DocumentMeta {
        content_type: Some("text/plain; charset=Cp1252".into()),
        gzip: true,
    };

    store.put_document(KEY, body.clone(), &meta).await.unwrap();
    let (bytes, read_meta) = store.get_document(KEY).await.unwrap();

    assert_eq!(read_meta, meta);
    assert_eq!(bytes, body, "stored bytes must not be transformed");
    let mut plain = String::new();
    flate2::read::GzDecoder::new(bytes.as_slice())
        .read_to_string(&mut plain)
        .unwrap();
    assert_eq!(plain, text);
}

#[tokio::test]
async fn a_plain_document_overwrites_and_has_no_encoding() {
    let store = store().await;
    let first = DocumentMeta {
        content_type: Some("text/plain".into()),
        gzip: true,
    };
    store.put_document(KEY, gzip(b"old"), &first).await.unwrap();

    let meta = DocumentMeta {
        content_type: Some("text/plain; charset=Shift_JIS".into()),
        gzip: false,
    };
    let body = vec![0x82, 0xa0, b'\t', b'x', b'\n'];
    store.put_document(KEY, body.clone(), &meta).await.unwrap();

    assert_eq!(store.get_document(KEY).await.unwrap(), (body, meta));
}

#[tokio::test]
async fn a_missing_document_is_not_found() {
    let store = store().await;

    let result = store.get_document("reports/A1/none.raw").await;

    assert!(
        matches!(result, Err(StoreError::NotFound { .. })),
        "{result:?}"
    );
}

#[tokio::test]
async fn a_missing_bucket_is_a_permanent_error() {
    let clients = clients().await;
    let store = S3DocumentStore::new(clients.s3, "spsync-no-such-bucket");

    let result = store.get_document(KEY).await;

    assert!(
        matches!(
            result,
            Err(StoreError::Permanent {
                operation: "GetObject",
                ..
            })
        ),
        "{result:?}"
    );
}

#[tokio::test]
async fn a_localhost_endpoint_works_because_s3_is_path_style() {
    // `<bucket>.localhost` does not resolve: only path-style requests reach the server.
    let url = endpoint().replace("127.0.0.1", "localhost");
    let clients = AwsClients::for_endpoint(&url, REGION).await;
    let bucket = bucket(&clients).await;
    let store = S3DocumentStore::new(clients.s3, bucket);

    store
        .put_document(KEY, b"x".to_vec(), &DocumentMeta::default())
        .await
        .unwrap();

    assert_eq!(store.get_document(KEY).await.unwrap().0, b"x");
}
