//! The built-in English texts.

use crate::message::MessageKind;

/// (kind, subject, text, HTML fragment) for every email kind.
pub(crate) const TEXTS: &[(MessageKind, &str, &str, &str)] = &[
    (
        MessageKind::OneTimeCode,
        "Your {product} verification code",
        "Hello {name},\n\n\
         Your {product} verification code is:\n\n    {code}\n\n\
         It expires in {minutes} min. If you did not try to sign in, ignore this email \
         and consider changing your password.\n\n\
         Questions: {support}\n",
        "<p>Hello {name},</p>\
         <p>Your {product} verification code is:</p>\
         <p style=\"font-size:24px;font-weight:bold;letter-spacing:4px\">{code}</p>\
         <p>It expires in {minutes} min. If you did not try to sign in, ignore this email \
         and consider changing your password.</p>\
         <p>Questions: <a href=\"mailto:{support}\">{support}</a></p>",
    ),
    (
        MessageKind::MagicLink,
        "Sign in to {product}",
        "Hello {name},\n\n\
         Open this link to sign in to {product}:\n\n{link}\n\n\
         Or type this code: {code}\n\n\
         The link and the code expire in {minutes} min and work once. If you did not try to \
         sign in, ignore this email.\n\n\
         Questions: {support}\n",
        "<p>Hello {name},</p>\
         <p><a href=\"{link}\">Sign in to {product}</a></p>\
         <p>If the button does not work, copy this address into your browser:<br>{link}</p>\
         <p>Or type this code: <b>{code}</b></p>\
         <p>The link and the code expire in {minutes} min and work once. If you did not try \
         to sign in, ignore this email.</p>\
         <p>Questions: <a href=\"mailto:{support}\">{support}</a></p>",
    ),
    (
        MessageKind::NewDeviceTrusted,
        "{product}: a new device was trusted",
        "Hello {name},\n\n\
         The device \"{device}\" will no longer be asked for a second factor when signing in \
         to {product}.\n\n\
         If this was not you, revoke it in your security settings and change your password, \
         or write to {support}.\n",
        "<p>Hello {name},</p>\
         <p>The device <b>{device}</b> will no longer be asked for a second factor when \
         signing in to {product}.</p>\
         <p>If this was not you, revoke it in your security settings and change your \
         password, or write to <a href=\"mailto:{support}\">{support}</a>.</p>",
    ),
    (
        MessageKind::AccountLocked,
        "{product}: your account is locked",
        "Hello {name},\n\n\
         After too many failed sign-in attempts your {product} account is locked for \
         {minutes} min on devices and networks you have not used recently. Your trusted \
         devices and the networks you usually sign in from still work.\n\n\
         If these attempts were not yours, change your password, or write to {support}.\n",
        "<p>Hello {name},</p>\
         <p>After too many failed sign-in attempts your {product} account is locked for \
         {minutes} min on devices and networks you have not used recently. Your trusted \
         devices and the networks you usually sign in from still work.</p>\
         <p>If these attempts were not yours, change your password, or write to \
         <a href=\"mailto:{support}\">{support}</a>.</p>",
    ),
    (
        MessageKind::AccountLockedWithLink,
        "{product}: your account is locked",
        "Hello {name},\n\n\
         After too many failed sign-in attempts your {product} account is locked for \
         {minutes} min on devices and networks you have not used recently. Your trusted \
         devices and the networks you usually sign in from still work.\n\n\
         To unlock it now, open this link and sign in with your password or second factor \
         (the link alone unlocks nothing, works once, and stops working if the account locks \
         again):\n\n{link}\n\n\
         If these attempts were not yours, change your password, or write to {support}.\n",
        "<p>Hello {name},</p>\
         <p>After too many failed sign-in attempts your {product} account is locked for \
         {minutes} min on devices and networks you have not used recently. Your trusted \
         devices and the networks you usually sign in from still work.</p>\
         <p>To unlock it now, <a href=\"{link}\">open this link</a> and sign in with your \
         password or second factor (the link alone unlocks nothing, works once, and stops \
         working if the account locks again).</p>\
         <p>If these attempts were not yours, change your password, or write to \
         <a href=\"mailto:{support}\">{support}</a>.</p>",
    ),
    (
        MessageKind::AccountLockedUntilUnlock,
        "{product}: your account is locked",
        "Hello {name},\n\n\
         After too many failed sign-in attempts your {product} account is locked on devices \
         and networks you have not used recently until an administrator unlocks it. Your \
         trusted devices and the networks you usually sign in from still work.\n\n\
         To have it unlocked, or if these attempts were not yours, write to {support}.\n",
        "<p>Hello {name},</p>\
         <p>After too many failed sign-in attempts your {product} account is locked on \
         devices and networks you have not used recently until an administrator unlocks it. \
         Your trusted devices and the networks you usually sign in from still work.</p>\
         <p>To have it unlocked, or if these attempts were not yours, write to \
         <a href=\"mailto:{support}\">{support}</a>.</p>",
    ),
    (
        MessageKind::AccountLockedUntilUnlockWithLink,
        "{product}: your account is locked",
        "Hello {name},\n\n\
         After too many failed sign-in attempts your {product} account is locked on devices \
         and networks you have not used recently until it is unlocked. Your trusted devices \
         and the networks you usually sign in from still work.\n\n\
         To unlock it, open this link and sign in with your password or second factor (the \
         link alone unlocks nothing, works once, and stops working if the account locks \
         again); or ask an administrator at {support}:\n\n{link}\n\n\
         If these attempts were not yours, change your password.\n",
        "<p>Hello {name},</p>\
         <p>After too many failed sign-in attempts your {product} account is locked on \
         devices and networks you have not used recently until it is unlocked. Your trusted \
         devices and the networks you usually sign in from still work.</p>\
         <p>To unlock it, <a href=\"{link}\">open this link</a> and sign in with your \
         password or second factor (the link alone unlocks nothing, works once, and stops \
         working if the account locks again); or ask an administrator at \
         <a href=\"mailto:{support}\">{support}</a>.</p>\
         <p>If these attempts were not yours, change your password.</p>",
    ),
    (
        MessageKind::FactorAdded,
        "{product}: a second factor was added",
        "Hello {name},\n\n\
         A second factor, {factor}, was added to your {product} account.\n\n\
         If this was not you, write to {support} at once.\n",
        "<p>Hello {name},</p>\
         <p>A second factor, <b>{factor}</b>, was added to your {product} account.</p>\
         <p>If this was not you, write to <a href=\"mailto:{support}\">{support}</a> at \
         once.</p>",
    ),
    (
        MessageKind::FactorRemoved,
        "{product}: a second factor was removed",
        "Hello {name},\n\n\
         A second factor, {factor}, was removed from your {product} account.\n\n\
         If this was not you, write to {support} at once.\n",
        "<p>Hello {name},</p>\
         <p>A second factor, <b>{factor}</b>, was removed from your {product} account.</p>\
         <p>If this was not you, write to <a href=\"mailto:{support}\">{support}</a> at \
         once.</p>",
    ),
    (
        MessageKind::RecoveryCodesRegenerated,
        "{product}: new recovery codes",
        "Hello {name},\n\n\
         New recovery codes were created for your {product} account; the old ones no longer \
         work.\n\n\
         If this was not you, write to {support} at once.\n",
        "<p>Hello {name},</p>\
         <p>New recovery codes were created for your {product} account; the old ones no \
         longer work.</p>\
         <p>If this was not you, write to <a href=\"mailto:{support}\">{support}</a> at \
         once.</p>",
    ),
    (
        MessageKind::RecoveryCodeUsed,
        "{product}: a recovery code was used",
        "Hello {name},\n\n\
         A recovery code was used to sign in to your {product} account. Codes left: \
         {remaining}.\n\n\
         If this was not you, write to {support} at once.\n",
        "<p>Hello {name},</p>\
         <p>A recovery code was used to sign in to your {product} account. Codes left: \
         <b>{remaining}</b>.</p>\
         <p>If this was not you, write to <a href=\"mailto:{support}\">{support}</a> at \
         once.</p>",
    ),
    (
        MessageKind::SecurityKeyCopied,
        "{product}: a copy of your security key may exist",
        "Hello {name},\n\n\
         A sign-in to your {product} account with your {factor} was refused: the key's \
         signature counter went backwards, which happens when a copy of the key is used. If \
         you restored the key from a backup, sign in again; otherwise remove this key from your \
         account and write to {support}.\n",
        "<p>Hello {name},</p>\
         <p>A sign-in to your {product} account with your <b>{factor}</b> was refused: the \
         key's signature counter went backwards, which happens when a copy of the key is \
         used.</p>\
         <p>If you restored the key from a backup, sign in again; otherwise remove this key \
         from your account and write to <a href=\"mailto:{support}\">{support}</a>.</p>",
    ),
];

/// The text message carrying a code.
pub(crate) const SMS_CODE: &str = "{code} is your {product} code. It expires in {minutes} min.";

/// The text messages of factor-change notices, sent to the phone numbers on the account before
/// and after the change.
pub(crate) const SMS_NOTICES: &[(MessageKind, &str)] = &[
    (
        MessageKind::FactorAdded,
        "{product}: a second factor, {factor}, was added to your account. Not you? Write to {support} now.",
    ),
    (
        MessageKind::FactorRemoved,
        "{product}: a second factor, {factor}, was removed from your account. Not you? Write to {support} now.",
    ),
];
