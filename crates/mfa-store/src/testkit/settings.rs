//! Checks of [`SettingsStore`](crate::SettingsStore).

use super::{SharedStore, unique};
use crate::{EmailAddress, FactorKind, MfaSettings, PhoneNumber};

/// Settings read back as stored, and a put replaces the whole record.
pub async fn put_get_replace(store: SharedStore) {
    let user = unique("settings");
    assert!(store.settings(&user).await.unwrap().is_none());

    let mut first = MfaSettings::new(user.clone());
    first.enabled.extend([FactorKind::Totp, FactorKind::Email]);
    first.preferred = Some(FactorKind::Totp);
    first.email = Some(EmailAddress::parse("Alice@Example.com").unwrap());
    first.phone = Some(PhoneNumber::parse("+15550100").unwrap());
    store.put_settings(first.clone()).await.unwrap();
    assert_eq!(store.settings(&user).await.unwrap(), Some(first));

    let mut second = MfaSettings::new(user.clone());
    second.enabled.insert(FactorKind::Sms);
    second.phone = Some(PhoneNumber::parse("+15550199").unwrap());
    store.put_settings(second.clone()).await.unwrap();
    assert_eq!(
        store.settings(&user).await.unwrap(),
        Some(second),
        "every field replaced"
    );
    assert!(
        store
            .settings(&unique("settings-none"))
            .await
            .unwrap()
            .is_none()
    );
}
