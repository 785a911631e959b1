// The passkey ceremonies of the web pages, on guss-identity's JSON
// endpoints, and the step-up that admin forms need. No framework: a few
// buttons and forms are wired by their data attributes.
"use strict";

const b64url = {
  toBytes(text) {
    const base64 = text.replace(/-/g, "+").replace(/_/g, "/");
    const padded = base64 + "=".repeat((4 - (base64.length % 4)) % 4);
    return Uint8Array.from(atob(padded), (c) => c.charCodeAt(0));
  },
  fromBytes(buffer) {
    let binary = "";
    for (const byte of new Uint8Array(buffer)) binary += String.fromCharCode(byte);
    return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  },
};

function say(text) {
  const status = document.getElementById("status");
  if (status) status.textContent = text;
}

async function api(path, body) {
  const response = await fetch("/api/identity" + path, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body || {}),
    credentials: "same-origin",
  });
  const data = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(data.error || response.statusText);
  return data;
}

function withCredentialIds(list) {
  return (list || []).map((c) => ({ ...c, id: b64url.toBytes(c.id) }));
}

async function createPasskey(options) {
  const publicKey = structuredClone(options.publicKey);
  publicKey.challenge = b64url.toBytes(publicKey.challenge);
  publicKey.user.id = b64url.toBytes(publicKey.user.id);
  publicKey.excludeCredentials = withCredentialIds(publicKey.excludeCredentials);
  const credential = await navigator.credentials.create({ publicKey });
  const response = credential.response;
  return {
    id: credential.id,
    rawId: b64url.fromBytes(credential.rawId),
    type: credential.type,
    response: {
      attestationObject: b64url.fromBytes(response.attestationObject),
      clientDataJSON: b64url.fromBytes(response.clientDataJSON),
      transports: response.getTransports ? response.getTransports() : [],
    },
    extensions: credential.getClientExtensionResults(),
  };
}

async function usePasskey(options) {
  const publicKey = structuredClone(options.publicKey);
  publicKey.challenge = b64url.toBytes(publicKey.challenge);
  publicKey.allowCredentials = withCredentialIds(publicKey.allowCredentials);
  const credential = await navigator.credentials.get({ publicKey });
  const response = credential.response;
  return {
    id: credential.id,
    rawId: b64url.fromBytes(credential.rawId),
    type: credential.type,
    response: {
      authenticatorData: b64url.fromBytes(response.authenticatorData),
      clientDataJSON: b64url.fromBytes(response.clientDataJSON),
      signature: b64url.fromBytes(response.signature),
      userHandle: response.userHandle ? b64url.fromBytes(response.userHandle) : null,
    },
    extensions: credential.getClientExtensionResults(),
  };
}

// Runs `ceremony` with the button disabled, saying what goes on.
async function busy(button, failure, ceremony) {
  button.disabled = true;
  say(document.body.dataset.working);
  try {
    await ceremony();
  } catch (error) {
    console.error(error);
    say(failure);
    button.disabled = false;
  }
}

document.querySelectorAll("[data-enroll]").forEach((button) => {
  button.addEventListener("click", () =>
    busy(button, document.body.dataset.passkeyFailed, async () => {
      const labelInput = document.getElementById(button.dataset.labelInput);
      const label = (labelInput && labelInput.value.trim()) || "Passkey";
      const start = await api("/enroll/start", { token: button.dataset.enroll, label });
      const credential = await createPasskey(start.options);
      await api("/enroll/finish", { ceremony: start.ceremony, credential });
      window.location.assign(button.dataset.next);
    }),
  );
});

document.querySelectorAll("[data-sign-in]").forEach((button) => {
  button.addEventListener("click", () =>
    busy(button, document.body.dataset.passkeyFailed, async () => {
      const start = await api("/sign-in/start", {});
      const credential = await usePasskey(start.options);
      await api("/sign-in/finish", { ceremony: start.ceremony, credential });
      window.location.assign(button.dataset.next);
    }),
  );
});

// Admin forms: confirm with a passkey first, then submit.
document.querySelectorAll("form[data-step-up]").forEach((form) => {
  form.addEventListener("submit", (event) => {
    if (form.dataset.stepUp !== "needed") return;
    event.preventDefault();
    const button = form.querySelector("[type=submit]");
    busy(button, document.body.dataset.stepUpFailed, async () => {
      const start = await api("/step-up/start", {});
      const credential = await usePasskey(start.options);
      await api("/step-up/finish", { ceremony: start.ceremony, credential });
      document.querySelectorAll("form[data-step-up]").forEach((f) => { f.dataset.stepUp = "done"; });
      form.requestSubmit(button);
    });
  });
});

document.querySelectorAll("[data-sign-out]").forEach((button) => {
  button.addEventListener("click", async () => {
    try { await api("/sign-out", {}); } catch (error) { /* signed out already */ }
    window.location.assign("/");
  });
});

document.querySelectorAll("[data-print]").forEach((button) => {
  button.addEventListener("click", () => window.print());
});
