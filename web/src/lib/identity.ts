// Who this browser is: a display name and a stable user id (several tabs count as one user).
const NAME_KEY = "sfu.displayName";
const USER_KEY = "sfu.userId";

export function randomId(): string {
  if (typeof crypto !== "undefined" && "randomUUID" in crypto) return crypto.randomUUID();
  return Math.random().toString(36).slice(2) + Date.now().toString(36);
}

export function loadName(): string {
  try {
    return localStorage.getItem(NAME_KEY) ?? "";
  } catch {
    return "";
  }
}

export function saveName(name: string): void {
  try {
    localStorage.setItem(NAME_KEY, name);
  } catch {
    /* storage unavailable */
  }
}

export function userId(): string {
  try {
    let id = localStorage.getItem(USER_KEY);
    if (!id) {
      id = `u-${randomId()}`;
      localStorage.setItem(USER_KEY, id);
    }
    return id;
  } catch {
    return `u-${randomId()}`;
  }
}
