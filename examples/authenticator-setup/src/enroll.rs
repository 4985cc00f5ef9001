//! The enrolment endpoints: the authenticator with its QR code, and the SMS number.
//!
//! The first factor needs nothing more than the user's session; once a factor is active, every
//! enrolment needs the step-up grant of a fresh second-factor verification (`step_up_grant`).

use axum::Json;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use mfa::{Authority, EnrollmentOutcome, PhoneNumber, StepUpGrant, TotpOptions};
use serde::Deserialize;
use serde_json::json;

use crate::error::{Error, Result};
use crate::routes::{Peer, Shared, client, no_store, sent, step_up_grant};

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

/// The grant a request carries, if any (a malformed one authorises nothing).
fn grant(text: Option<&str>) -> Result<Option<StepUpGrant>> {
    text.map(step_up_grant).transpose()
}

/// What entitles the change: the grant, or (without one) the first factor's authority, which
/// the facade refuses once the user has an active factor (`403 not_authorised`).
fn authority(grant: Option<&StepUpGrant>) -> Authority<'_> {
    grant.map_or(Authority::FirstFactor, Authority::StepUp)
}

fn phone(text: &str) -> Result<PhoneNumber> {
    PhoneNumber::parse(text).map_err(|_| Error::BadRequest("invalid phone number"))
}

#[derive(Deserialize)]
pub(crate) struct EnrollTotp {
    user: String,
    step_up_grant: Option<String>,
}

/// `POST /enroll/totp {user, step_up_grant?}`: the Key URI, the secret for manual entry, the QR
/// code as SVG and as a PNG data URL.
pub(crate) async fn enroll_totp(
    State(app): Shared,
    ConnectInfo(peer): Peer,
    headers: HeaderMap,
    Json(body): Json<EnrollTotp>,
) -> Result<Response> {
    let grant = grant(body.step_up_grant.as_deref())?;
    let e = app
        .mfa
        .start_totp_enrollment(
            &body.user,
            authority(grant.as_ref()),
            "Authenticator",
            TotpOptions::new(),
            &client(peer, &headers),
        )
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
    step_up_grant: Option<String>,
}

/// `POST /enroll/totp/confirm {user, code, step_up_grant?}`: the first code activates the
/// authenticator.
pub(crate) async fn confirm_totp(
    State(app): Shared,
    ConnectInfo(peer): Peer,
    headers: HeaderMap,
    Json(body): Json<ConfirmTotp>,
) -> Result<Response> {
    let grant = grant(body.step_up_grant.as_deref())?;
    let outcome = app
        .mfa
        .finish_totp_enrollment(
            &body.user,
            authority(grant.as_ref()),
            &body.code,
            &client(peer, &headers),
        )
        .await?;
    enrollment(outcome)
}

#[derive(Deserialize)]
pub(crate) struct EnrollSms {
    user: String,
    phone: String,
    step_up_grant: Option<String>,
}

/// `POST /enroll/sms {user, phone, step_up_grant?}`: sends a code to confirm the number.
pub(crate) async fn enroll_sms(
    State(app): Shared,
    ConnectInfo(peer): Peer,
    headers: HeaderMap,
    Json(body): Json<EnrollSms>,
) -> Result<Response> {
    let grant = grant(body.step_up_grant.as_deref())?;
    let phone = phone(&body.phone)?;
    sent(
        app.mfa
            .start_sms_enrollment(
                &body.user,
                authority(grant.as_ref()),
                &phone,
                &client(peer, &headers),
            )
            .await?,
    )
}

#[derive(Deserialize)]
pub(crate) struct ConfirmSms {
    user: String,
    phone: String,
    code: String,
    step_up_grant: Option<String>,
}

/// `POST /enroll/sms/confirm {user, phone, code, step_up_grant?}`.
pub(crate) async fn confirm_sms(
    State(app): Shared,
    ConnectInfo(peer): Peer,
    headers: HeaderMap,
    Json(body): Json<ConfirmSms>,
) -> Result<Response> {
    let grant = grant(body.step_up_grant.as_deref())?;
    let phone = phone(&body.phone)?;
    let outcome = app
        .mfa
        .finish_sms_enrollment(
            &body.user,
            authority(grant.as_ref()),
            &phone,
            &body.code,
            &client(peer, &headers),
        )
        .await?;
    enrollment(outcome)
}
