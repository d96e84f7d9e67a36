// Signing keys: the JWT signing keys (rotate), the JWKS verifiers fetch, and the biscuit root
// keys (rotate; retire a rotated one).
import { api, attempt } from "../../api.js";
import { badge, confirmDialog, el, fill, prettyJson, table, timeElement } from "../../dom.js";
import { actionButton, section } from "./shared.js";

const JWKS = "/.well-known/jwks.json";

async function loadSigningKeys() {
  const keys = await api("GET", "/api/v1/auth/signing-keys");
  const columns = [
    { label: "Key id", value: (k) => el("code", { className: "auth-key", text: k.kid }) },
    { label: "Algorithm", value: (k) => k.algorithm },
    { label: "State", value: (k) => badge(k.state === "active" ? "active" : "muted", k.state) },
    { label: "Created", value: (k) => timeElement(k.created_at) },
    { label: "Retired", value: (k) => timeElement(k.retired_at) },
    { label: "Unpublished", value: (k) => timeElement(k.drop_after) },
  ];
  fill(document.getElementById("signing-keys"), table({ columns, rows: keys.items, rowKey: (k) => k.kid, empty: "No signing keys yet." }));
}

async function loadJwks() {
  const jwks = await api("GET", JWKS);
  const columns = [
    { label: "Key id", value: (k) => el("code", { className: "auth-key", text: k.kid }) },
    { label: "Type", value: (k) => `${k.kty} ${k.crv} (${k.alg})` },
    { label: "Public key (x)", value: (k) => el("code", { className: "auth-key", text: k.x }) },
  ];
  fill(
    document.getElementById("jwks"),
    table({ columns, rows: jwks.keys, rowKey: (k) => k.kid, empty: "No published keys." }),
    el("details", { className: "auth-raw" }, el("summary", {}, "The JWKS document, as verifiers fetch it from ", el("code", { text: JWKS })), prettyJson(jwks)),
  );
}

async function loadRootKeys() {
  const keys = await api("GET", "/api/v1/auth/biscuit/root-keys");
  const columns = [
    { label: "Id", className: "num", value: (k) => String(k.id) },
    { label: "State", value: (k) => badge(k.state === "active" ? "active" : "muted", k.state) },
    { label: "Public key", value: (k) => el("code", { className: "auth-key", text: k.public_key }) },
    { label: "Created", value: (k) => timeElement(k.created_at) },
    { label: "Rotated", value: (k) => timeElement(k.rotated_at) },
    {
      label: "Actions",
      className: "actions",
      value: (k) =>
        k.state === "rotated"
          ? actionButton(
              "Retire",
              async () => {
                if (!(await confirmDialog({ title: `Retire root key ${k.id}?`, message: "Biscuits it signed stop verifying at once.", confirm: "Retire", danger: true }))) return;
                const done = await attempt(() => api("DELETE", `/api/v1/auth/biscuit/root-keys/${k.id}`), { success: "The root key is retired." });
                if (done !== undefined) section(loadRootKeys);
              },
              { danger: true },
            )
          : null,
    },
  ];
  fill(document.getElementById("root-keys"), table({ columns, rows: keys.items, rowKey: (k) => String(k.id), empty: "No root keys yet." }));
}

async function rotate(dialog, path, success, reloads) {
  if (!(await confirmDialog({ confirm: "Rotate", danger: true, ...dialog }))) return;
  const done = await attempt(() => api("POST", path), { success });
  if (done !== undefined) for (const load of reloads) section(load);
}

document.getElementById("rotate-signing").addEventListener("click", () =>
  rotate(
    { title: "Rotate the JWT signing key?", message: "A new key signs from now on; tokens signed by the current one stay valid until they expire." },
    "/api/v1/auth/signing-keys/rotate",
    "A new signing key is active.",
    [loadSigningKeys, loadJwks],
  ),
);
document.getElementById("rotate-biscuit").addEventListener("click", () =>
  rotate(
    { title: "Rotate the biscuit root key?", message: "A new key signs biscuits from now on; the current one keeps verifying until it is retired." },
    "/api/v1/auth/biscuit/root-keys/rotate",
    "A new root key is active.",
    [loadRootKeys],
  ),
);
for (const load of [loadSigningKeys, loadJwks, loadRootKeys]) section(load);
