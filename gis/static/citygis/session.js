// The browser's login, shared by every page (the map, /dashboard, /planning/hotspots).
//
// No page keeps a credential where its script could read it: the login form sends a token (or a
// username and password) once to /api/session, which answers with Django's HttpOnly session
// cookie. From then on the browser sends that cookie with our own requests (fetch and MapLibre's
// tiles are same-origin), and no script, ours or an injected one, can read or send it elsewhere.
// Writes to /api/session carry the CSRF token (the csrftoken cookie, which is not a credential).

import { format, gettext } from "./i18n.js";

const SESSION_URL = "/api/session";

function csrfToken() {
  const found = document.cookie.split("; ").find((c) => c.startsWith("csrftoken="));
  return found ? decodeURIComponent(found.slice("csrftoken=".length)) : "";
}

async function answer(response) {
  let body = {};
  try {
    body = await response.json();
  } catch {
    // Not JSON: the status says enough.
  }
  if (!response.ok) {
    const error = new Error(
      body.error?.message || format(gettext("The server answered %(status)s."), { status: response.status }),
    );
    error.status = response.status;
    throw error;
  }
  return body;
}

// Who the session is: {authenticated, username, role, organisation}; sets the CSRF cookie.
export async function whoAmI() {
  return answer(await fetch(SESSION_URL, { cache: "no-store" }));
}

async function send(method, body) {
  if (!csrfToken()) await whoAmI();
  const response = await fetch(SESSION_URL, {
    method,
    headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
    body: body ? JSON.stringify(body) : undefined,
  });
  return answer(response);
}

// Log in with {token} or {username, password}; rejects with the server's message (401, 429…).
export function logIn(credentials) {
  return send("POST", credentials);
}

export function logOut() {
  return send("DELETE");
}

// The login form's credentials: a token if one was typed, else the username and password.
export function credentialsOf(form) {
  const value = (name) => form.elements[name]?.value.trim() || "";
  const token = value("token");
  if (token) return { token };
  return { username: value("username"), password: form.elements.password?.value || "" };
}
