//! The enrolment endpoints: the authenticator with its QR code, and the SMS number.

use axum::Json;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use mfa::{EnrollmentOutcome, TotpOptions};
use serde::Deserialize;
use serde_json::json;

use crate::error::{Error, Result};
use crate::routes::{Peer, Shared, UserBody, client, no_store, sent};

fn enrollment(outcome: EnrollmentOutcome) -> Result<Response> {
    match outcome {
        EnrollmentOutcome::Confirmed { recovery_codes } => {
            let codes: Vec<String> = recovery_codes
                .map(|c| c.expose().iter().map(|s| s.to_string()).collect())
                .unwrap_or_default();
            Ok(no_store(
                StatusCode::OK,
                json!({ "status": "enabled", "recovery_codes": codes }),
            ))
        }
        EnrollmentOutcome::Rejected { attempts_left } => Err(Error::CodeMismatch { attempts_left }),
        EnrollmentOutcome::Expired => Err(Error::ExpiredCode),
        EnrollmentOutcome::AlreadyEnabled => Err(Error::AlreadyEnabled),
        EnrollmentOutcome::LockedOut { until } => Err(Error::LockedOut { until }),
        _ => Err(Error::NoPendingEnrollment),
    }
}

/// `POST /enroll/totp {user}`: the Key URI, the secret for manual entry, the QR code as SVG and
/// as a PNG data URL.
pub(crate) async fn enroll_totp(
    State(app): Shared,
    Json(body): Json<UserBody>,
) -> Result<Response> {
    let e = app
        .mfa
        .start_totp_enrollment(&body.user, "Authenticator", TotpOptions::new())
        .await?;
    Ok(no_store(
        StatusCode::OK,
        json!({
            "factor_id": e.factor_id(),
            "key_uri": e.key_uri(),
            "secret": e.secret_base32(),
            "qr_svg": e.qr_svg(),
            "qr_png_data_url": e.qr_png_data_url(),
        }),
    ))
}

#[derive(Deserialize)]
pub(crate) struct ConfirmTotp {
    user: String,
    code: String,
}

/// `POST /enroll/totp/confirm {user, code}`: the first code activates the authenticator.
pub(crate) async fn confirm_totp(
    State(app): Shared,
    ConnectInfo(peer): Peer,
    headers: HeaderMap,
    Json(body): Json<ConfirmTotp>,
) -> Result<Response> {
    let outcome = app
        .mfa
        .finish_totp_enrollment(&body.user, &body.code, &client(peer, &headers))
        .await?;
    enrollment(outcome)
}

#[derive(Deserialize)]
pub(crate) struct EnrollSms {
    user: String,
    phone: String,
}

/// `POST /enroll/sms {user, phone}`: sends a code to confirm the number.
pub(crate) async fn enroll_sms(
    State(app): Shared,
    Json(body): Json<EnrollSms>,
) -> Result<Response> {
    sent(
        app.mfa
            .start_sms_enrollment(&body.user, &body.phone)
            .await?,
    )
}

#[derive(Deserialize)]
pub(crate) struct ConfirmSms {
    user: String,
    phone: String,
    code: String,
}

/// `POST /enroll/sms/confirm {user, phone, code}`.
pub(crate) async fn confirm_sms(
    State(app): Shared,
    ConnectInfo(peer): Peer,
    headers: HeaderMap,
    Json(body): Json<ConfirmSms>,
) -> Result<Response> {
    let outcome = app
        .mfa
        .finish_sms_enrollment(&body.user, &body.phone, &body.code, &client(peer, &headers))
        .await?;
    enrollment(outcome)
}
