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

// Confirms the session with the person's passkey (for admin actions).
async function stepUp() {
  const start = await api("/step-up/start", {});
  const credential = await usePasskey(start.options);
  await api("/step-up/finish", { ceremony: start.ceremony, credential });
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
      await stepUp();
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

// Uploads: one request per file with the file as its body, so any size
// streams and each shows its progress. Files come from the chooser or are
// dropped on the zone.
document.querySelectorAll("[data-upload]").forEach((zone) => {
  const input = zone.querySelector("input[type=file]");
  const list = zone.querySelector("[data-upload-progress]");
  const send = (file) =>
    new Promise((resolve) => {
      const item = document.createElement("li");
      const bar = document.createElement("progress");
      bar.max = 100;
      bar.value = 0;
      bar.setAttribute("aria-label", file.name);
      const result = document.createElement("span");
      item.append(file.name + " ", bar, " ", result);
      list.append(item);
      const done = (ok) => {
        item.dataset.result = ok ? "ok" : "failed";
        result.textContent = ok ? zone.dataset.uploaded : zone.dataset.uploadFailed;
        if (ok) bar.value = 100;
        resolve(ok);
      };
      const request = new XMLHttpRequest();
      const joiner = zone.dataset.upload.endsWith("?") ? "" : "&";
      request.open("POST", zone.dataset.upload + joiner + "name=" + encodeURIComponent(file.name));
      request.setRequestHeader("X-Guss-Form", zone.dataset.csrf);
      request.setRequestHeader("Content-Type", file.type || "application/octet-stream");
      request.upload.addEventListener("progress", (event) => {
        if (event.lengthComputable) bar.value = Math.round((event.loaded * 100) / event.total);
      });
      request.addEventListener("load", () => done(request.status >= 200 && request.status < 300));
      request.addEventListener("error", () => done(false));
      request.send(file);
    });
  const upload = async (files) => {
    let all = true;
    for (const file of Array.from(files)) all = (await send(file)) && all;
    if (all && files.length > 0 && zone.dataset.next) window.location.assign(zone.dataset.next);
  };
  zone.querySelector("[data-upload-start]").addEventListener("click", () => upload(input.files));
  zone.addEventListener("dragover", (event) => {
    event.preventDefault();
    zone.classList.add("dragging");
  });
  zone.addEventListener("dragleave", () => zone.classList.remove("dragging"));
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    zone.classList.remove("dragging");
    upload(event.dataTransfer.files);
  });
});

// Adding a passkey on the security page: a step-up first where the page
// says one is needed, then the registration ceremony.
document.querySelectorAll("[data-add-passkey]").forEach((button) => {
  const card = button.closest("[data-add-passkey-card]");
  button.addEventListener("click", () =>
    busy(button, card.dataset.failed, async () => {
      if (card.dataset.stepUp === "needed") await stepUp();
      const labelInput = document.getElementById(button.dataset.labelInput);
      const label = (labelInput && labelInput.value.trim()) || "Passkey";
      const start = await api("/passkeys/start", { label });
      const credential = await createPasskey(start.options);
      await api("/passkeys/finish", { ceremony: start.ceremony, credential });
      window.location.assign(button.dataset.next);
    }),
  );
});
