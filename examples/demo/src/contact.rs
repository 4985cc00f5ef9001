//! Adding an email address or a phone number as a factor: send a code to it, confirm it with
//! that code. Adding one while another factor is active is a change that needs a step-up.

use axum::Form;
use axum::extract::Query;
use mfa::{EmailAddress, PhoneNumber, SendOutcome};
use mfa_axum::{Problem, SignedIn};
use mfa_mail::escape_html;
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use serde::Deserialize;

use crate::account::{Entitlement, enrolled, entitlement};
use crate::challenge::sent_message;
use crate::page::{Ctx, WebResult};
use crate::stepup::ask;

/// Email or SMS.
#[derive(Clone, Copy)]
enum Kind {
    Email,
    Sms,
}

impl Kind {
    fn page(self) -> &'static str {
        match self {
            Self::Email => "/account/email",
            Self::Sms => "/account/sms",
        }
    }

    fn title(self) -> &'static str {
        match self {
            Self::Email => "Add an email address",
            Self::Sms => "Add a phone number",
        }
    }

    /// The field's name and input type, and its label.
    fn field(self) -> (&'static str, &'static str, &'static str) {
        match self {
            Self::Email => ("email", "email", "Email address"),
            Self::Sms => ("phone", "tel", "Phone number (international, +15555550100)"),
        }
    }
}

/// What the user typed, checked.
enum Destination {
    Email(EmailAddress),
    Phone(PhoneNumber),
}

fn parse(kind: Kind, text: &str) -> Result<Destination, Problem> {
    let text = text.trim();
    match kind {
        Kind::Email => EmailAddress::parse(text)
            .map(Destination::Email)
            .map_err(|_| Problem::InvalidInput),
        Kind::Sms => PhoneNumber::parse(text)
            .map(Destination::Phone)
            .map_err(|_| Problem::InvalidInput),
    }
}

fn address_form(ctx: &Ctx, kind: Kind) -> String {
    let (name, input, label) = kind.field();
    format!(
        "<form method=\"post\" action=\"{action}\">{csrf}\
         <label>{label} <input type=\"{input}\" name=\"{name}\" id=\"{name}\" required></label>\
         <button id=\"{name}-send\">Send a code</button></form>",
        action = kind.page(),
        csrf = ctx.csrf_field(),
    )
}

async fn address_page(kind: Kind, user: &str, ctx: &Ctx) -> WebResult {
    if let Entitlement::StepUpFirst = entitlement(ctx, user).await? {
        return ask(ctx, kind.page()).await;
    }
    Ok(ctx.page(kind.title(), &address_form(ctx, kind)))
}

#[derive(Deserialize)]
pub(crate) struct ContactForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    phone: String,
    #[serde(default)]
    code: String,
}

impl ContactForm {
    fn value(&self, kind: Kind) -> &str {
        match kind {
            Kind::Email => &self.email,
            Kind::Sms => &self.phone,
        }
    }
}

async fn start(kind: Kind, user: &str, ctx: &Ctx, form: &ContactForm) -> WebResult {
    let destination = match parse(kind, form.value(kind)) {
        Ok(d) => d,
        Err(problem) => {
            return Ok(ctx.problem_page(problem, kind.title(), &address_form(ctx, kind)));
        }
    };
    let entitlement = entitlement(ctx, user).await?;
    let Some(authority) = entitlement.authority() else {
        return ask(ctx, kind.page()).await;
    };
    let mfa = &ctx.app.mfa;
    let started = match &destination {
        Destination::Email(a) => {
            mfa.start_email_enrollment(user, authority, a, &ctx.client)
                .await
        }
        Destination::Phone(p) => {
            mfa.start_sms_enrollment(user, authority, p, &ctx.client)
                .await
        }
    };
    let outcome = match started {
        Ok(outcome) => outcome,
        Err(mfa::Error::NotAuthorised) => return ask(ctx, kind.page()).await,
        Err(e) => {
            let problem = Problem::from(e);
            return Ok(ctx.problem_page(problem, kind.title(), &address_form(ctx, kind)));
        }
    };
    if let Some(problem) = Problem::from_send(&outcome, false) {
        return Ok(ctx.problem_page(problem, kind.title(), &address_form(ctx, kind)));
    }
    let (name, what) = match kind {
        Kind::Email => ("email", "email"),
        Kind::Sms => ("phone", "sms"),
    };
    let to = format!(
        "{}/confirm?{name}={}",
        kind.page(),
        utf8_percent_encode(form.value(kind).trim(), NON_ALPHANUMERIC)
    );
    let flash = match outcome {
        SendOutcome::Sent { .. } => Some(sent_message(&outcome, what)),
        _ => None,
    };
    ctx.redirect(&to, flash).await
}

fn confirm_form(ctx: &Ctx, kind: Kind, value: &str) -> String {
    let (name, _, _) = kind.field();
    let inbox = if ctx.app.development {
        " The <a href=\"/dev/inbox\">development inbox</a> shows it."
    } else {
        ""
    };
    format!(
        "<p>We sent a code to {value}.{inbox}</p>\
         <form method=\"post\" action=\"{action}/confirm\">{csrf}\
         <input type=\"hidden\" name=\"{name}\" value=\"{value}\">\
         <label>Code <input type=\"text\" name=\"code\" id=\"{name}-code\" required \
         autocomplete=\"one-time-code\"></label><button id=\"{name}-activate\">Confirm</button></form>",
        value = escape_html(value.trim()),
        action = kind.page(),
        csrf = ctx.csrf_field(),
    )
}

async fn confirm(kind: Kind, user: &str, ctx: &Ctx, form: &ContactForm) -> WebResult {
    let value = form.value(kind);
    let destination = parse(kind, value)?;
    let entitlement = entitlement(ctx, user).await?;
    let Some(authority) = entitlement.authority() else {
        return ask(ctx, kind.page()).await;
    };
    let mfa = &ctx.app.mfa;
    let code = form.code.trim();
    let finished = match &destination {
        Destination::Email(a) => {
            mfa.finish_email_enrollment(user, authority, a, code, &ctx.client)
                .await
        }
        Destination::Phone(p) => {
            mfa.finish_sms_enrollment(user, authority, p, code, &ctx.client)
                .await
        }
    };
    let outcome = match finished {
        Ok(outcome) => outcome,
        Err(mfa::Error::NotAuthorised) => return ask(ctx, kind.page()).await,
        Err(e) => return Err(e.into()),
    };
    let done = match kind {
        Kind::Email => "Email codes enabled.",
        Kind::Sms => "Text-message codes enabled.",
    };
    enrolled(ctx, outcome, done, || confirm_form(ctx, kind, value)).await
}

#[derive(Deserialize)]
pub(crate) struct ContactQuery {
    #[serde(default)]
    email: String,
    #[serde(default)]
    phone: String,
}

pub(crate) async fn email_page(SignedIn { user, .. }: SignedIn, ctx: Ctx) -> WebResult {
    address_page(Kind::Email, &user, &ctx).await
}

pub(crate) async fn email_start(
    SignedIn { user, .. }: SignedIn,
    ctx: Ctx,
    Form(form): Form<ContactForm>,
) -> WebResult {
    start(Kind::Email, &user, &ctx, &form).await
}

pub(crate) async fn email_confirm_page(
    SignedIn { .. }: SignedIn,
    ctx: Ctx,
    Query(query): Query<ContactQuery>,
) -> WebResult {
    let body = confirm_form(&ctx, Kind::Email, &query.email);
    Ok(ctx.page("Confirm your email address", &body))
}

pub(crate) async fn email_confirm(
    SignedIn { user, .. }: SignedIn,
    ctx: Ctx,
    Form(form): Form<ContactForm>,
) -> WebResult {
    confirm(Kind::Email, &user, &ctx, &form).await
}

pub(crate) async fn sms_page(SignedIn { user, .. }: SignedIn, ctx: Ctx) -> WebResult {
    address_page(Kind::Sms, &user, &ctx).await
}

pub(crate) async fn sms_start(
    SignedIn { user, .. }: SignedIn,
    ctx: Ctx,
    Form(form): Form<ContactForm>,
) -> WebResult {
    start(Kind::Sms, &user, &ctx, &form).await
}

pub(crate) async fn sms_confirm_page(
    SignedIn { .. }: SignedIn,
    ctx: Ctx,
    Query(query): Query<ContactQuery>,
) -> WebResult {
    let body = confirm_form(&ctx, Kind::Sms, &query.phone);
    Ok(ctx.page("Confirm your phone number", &body))
}

pub(crate) async fn sms_confirm(
    SignedIn { user, .. }: SignedIn,
    ctx: Ctx,
    Form(form): Form<ContactForm>,
) -> WebResult {
    confirm(Kind::Sms, &user, &ctx, &form).await
}
