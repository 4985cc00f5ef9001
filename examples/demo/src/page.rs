//! The page layout every HTML reply shares (navigation, one-time message, style).

use mfa_mail::escape_html;

use crate::app::AppState;
use crate::web::Ctx;

/// The whole HTML document around `body` (already escaped by its maker).
pub(crate) fn layout(state: &AppState, ctx: &Ctx, title: &str, body: &str) -> String {
    let nav = match ctx.user() {
        Some(user) => format!(
            "<span>Signed in as <strong id=\"whoami\">{}</strong></span> \
             <a href=\"/account\">Account</a> <a href=\"/dev/inbox\">Dev inbox</a> \
             <form class=\"inline\" method=\"post\" action=\"/logout\">{}<button id=\"logout\">Log out</button></form>",
            escape_html(user),
            ctx.csrf_field(state)
        ),
        None => "<a href=\"/login\">Log in</a> <a href=\"/register\">Register</a> \
                 <a href=\"/dev/inbox\">Dev inbox</a>"
            .to_owned(),
    };
    let flash = match ctx.flash.as_deref() {
        Some(msg) => match msg.strip_prefix("error:") {
            Some(err) => format!(
                "<p class=\"flash error\" id=\"flash\">{}</p>",
                escape_html(err)
            ),
            None => format!(
                "<p class=\"flash ok\" id=\"flash\">{}</p>",
                escape_html(msg)
            ),
        },
        None => String::new(),
    };
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title} · mfa demo</title><style>{STYLE}</style></head><body>\
         <header><a class=\"brand\" href=\"/\">mfa demo</a> <nav>{nav}</nav>\
         <small class=\"backend\">second-factor store: {backend}</small></header>\
         <main><h1>{title}</h1>{flash}{body}</main></body></html>",
        title = escape_html(title),
        backend = escape_html(state.backend),
    )
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:46rem;margin:0 auto;padding:1rem;color:#222}\
header{display:flex;gap:1rem;align-items:center;flex-wrap:wrap;border-bottom:1px solid #ccc;padding-bottom:.5rem}\
.brand{font-weight:bold;text-decoration:none}.backend{color:#666;margin-left:auto}\
form{margin:.6rem 0}form.inline{display:inline}label{display:block;margin:.3rem 0}\
input[type=text],input[type=password],input[type=email]{padding:.3rem;font-size:1rem}\
button{padding:.3rem .8rem;font-size:1rem}.flash{padding:.5rem;border-radius:4px}\
.ok{background:#e6f4e6}.error{background:#fbe4e4}.warn{background:#fff4d6;padding:.5rem}\
code,pre{background:#f4f4f4;padding:.1rem .3rem}pre{white-space:pre-wrap;padding:.5rem}\
table{border-collapse:collapse}td,th{border:1px solid #ddd;padding:.2rem .4rem;text-align:left}\
section{border:1px solid #ddd;border-radius:6px;padding:.5rem 1rem;margin:1rem 0}";
