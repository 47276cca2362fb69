//! SecretsManagerCredentials: sellers' LWA credentials.

use spsync_aws::SecretsManagerCredentials;
use spsync_workflow::{CredentialStore, StoreError};

use super::support::{clients, unique};

#[tokio::test]
async fn lwa_credentials_round_trip_by_name_and_arn() {
    let clients = clients().await;
    let name = unique("spsync/lwa/A1");
    let created = clients
        .secretsmanager
        .create_secret()
        .name(&name)
        .secret_string(r#"{"client_id":"amzn1.application-oa2-client.x","client_secret":"s3cr3t","refresh_token":"Atzr|token"}"#)
        .send()
        .await
        .unwrap();
    let store = SecretsManagerCredentials::new(clients.secretsmanager);

    let by_name = store.lwa_secret(&name).await.unwrap();
    let by_arn = store.lwa_secret(created.arn().unwrap()).await.unwrap();

    assert_eq!(by_name.client_id, "amzn1.application-oa2-client.x");
    assert_eq!(by_name.client_secret, "s3cr3t");
    assert_eq!(by_name.refresh_token, "Atzr|token");
    assert_eq!(by_arn, by_name);
    assert!(!format!("{by_name:?}").contains("s3cr3t"));
}

#[tokio::test]
async fn a_missing_secret_is_not_found() {
    let clients = clients().await;
    let store = SecretsManagerCredentials::new(clients.secretsmanager);

    let result = store.lwa_secret(&unique("spsync/lwa/none")).await;

    assert!(
        matches!(result, Err(StoreError::NotFound { .. })),
        "{result:?}"
    );
}

#[tokio::test]
async fn a_secret_of_another_shape_is_permanent_and_not_quoted() {
    let clients = clients().await;
    let name = unique("spsync/lwa/B2");
    clients
        .secretsmanager
        .create_secret()
        .name(&name)
        .secret_string(r#"{"client_id":"x","client_secret":"leaked-value"}"#)
        .send()
        .await
        .unwrap();
    let store = SecretsManagerCredentials::new(clients.secretsmanager);

    let err = store.lwa_secret(&name).await.unwrap_err();

    assert!(matches!(err, StoreError::Permanent { .. }), "{err:?}");
    assert!(!format!("{err} {err:?}").contains("leaked-value"));
}
