// The demo's WebAuthn glue: reads the options the server put in the page, asks the browser's
// authenticator, and posts the answer back in an ordinary form (with its CSRF token). The
// server (webauthn-rs) speaks JSON with base64url for every byte string.
"use strict";
(function () {
  function fromB64u(text) {
    const b64 = text.replace(/-/g, "+").replace(/_/g, "/");
    const bin = atob(b64 + "===".slice((b64.length + 3) % 4));
    return Uint8Array.from(bin, (c) => c.charCodeAt(0));
  }
  function toB64u(buffer) {
    const bytes = new Uint8Array(buffer);
    let bin = "";
    for (const b of bytes) bin += String.fromCharCode(b);
    return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }
  function send(form, credential, response) {
    form.querySelector("input[name=code]").value = JSON.stringify({
      id: credential.id,
      rawId: toB64u(credential.rawId),
      type: credential.type,
      response: response,
      extensions: {},
    });
    form.submit();
  }
  function fail(error) {
    const out = document.getElementById("webauthn-status");
    if (out) out.textContent = "The security key did not answer: " + error;
  }
  const create = document.getElementById("webauthn-create");
  if (create) {
    const options = JSON.parse(create.dataset.options).publicKey;
    options.challenge = fromB64u(options.challenge);
    options.user.id = fromB64u(options.user.id);
    for (const c of options.excludeCredentials || []) c.id = fromB64u(c.id);
    // webauthn-rs asks, without enforcing it, that the key require its PIN for this credential
    // (credProtect); browsers that cannot ask for that with a non-resident key refuse the whole
    // request, so it is asked again without the wish.
    const ask = () =>
      navigator.credentials.create({ publicKey: options }).catch((error) => {
        if (error.name !== "NotSupportedError" || !options.extensions) throw error;
        delete options.extensions.credentialProtectionPolicy;
        delete options.extensions.enforceCredentialProtectionPolicy;
        return navigator.credentials.create({ publicKey: options });
      });
    ask().then((credential) => {
      send(document.getElementById("webauthn-form"), credential, {
        attestationObject: toB64u(credential.response.attestationObject),
        clientDataJSON: toB64u(credential.response.clientDataJSON),
      });
    }, fail);
  }
  const get = document.getElementById("webauthn-get");
  if (get) {
    const options = JSON.parse(get.dataset.options).publicKey;
    options.challenge = fromB64u(options.challenge);
    for (const c of options.allowCredentials || []) c.id = fromB64u(c.id);
    navigator.credentials.get({ publicKey: options }).then((credential) => {
      const r = credential.response;
      send(document.getElementById("webauthn-form"), credential, {
        authenticatorData: toB64u(r.authenticatorData),
        clientDataJSON: toB64u(r.clientDataJSON),
        signature: toB64u(r.signature),
        userHandle: r.userHandle ? toB64u(r.userHandle) : null,
      });
    }, fail);
  }
})();
