// WebAuthn ceremonies with the auth service's JSON options: the binary fields travel as URL-safe
// base64 and are turned into ArrayBuffers for the browser, and the browser's answer back again.

function toBuffer(text) {
  const base64 = text.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((text.length + 3) % 4);
  const binary = atob(base64);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i += 1) bytes[i] = binary.charCodeAt(i);
  return bytes.buffer;
}

function toText(buffer) {
  if (!buffer) return undefined;
  const bytes = new Uint8Array(buffer);
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function descriptors(list) {
  return (list || []).map((item) => ({ ...item, id: toBuffer(item.id) }));
}

/** Whether this browser can use passkeys at all. */
export function passkeysSupported() {
  return typeof window.PublicKeyCredential === "function" && !!navigator.credentials;
}

/** A credential as the auth service takes it: its ids and, base64url, what its response holds. */
function asJson(credential, response) {
  return {
    id: credential.id,
    rawId: toText(credential.rawId),
    type: credential.type,
    authenticatorAttachment: credential.authenticatorAttachment || undefined,
    response: { clientDataJSON: toText(credential.response.clientDataJSON), ...response },
  };
}

/** `navigator.credentials.create()` with registration options; the credential as JSON. */
export async function createCredential(options) {
  const publicKey = {
    ...options,
    challenge: toBuffer(options.challenge),
    user: { ...options.user, id: toBuffer(options.user.id) },
    excludeCredentials: descriptors(options.excludeCredentials),
  };
  const credential = await navigator.credentials.create({ publicKey });
  return asJson(credential, {
    attestationObject: toText(credential.response.attestationObject),
    transports: credential.response.getTransports ? credential.response.getTransports() : [],
  });
}

/** `navigator.credentials.get()` with authentication options; the assertion as JSON. */
export async function getCredential(options) {
  const publicKey = { ...options, challenge: toBuffer(options.challenge), allowCredentials: descriptors(options.allowCredentials) };
  const credential = await navigator.credentials.get({ publicKey });
  return asJson(credential, {
    authenticatorData: toText(credential.response.authenticatorData),
    signature: toText(credential.response.signature),
    userHandle: toText(credential.response.userHandle),
  });
}
