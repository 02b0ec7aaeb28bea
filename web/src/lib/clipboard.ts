// Copy text for the "Copy link" button, and say whether it worked (the async Clipboard API needs a secure
// context and, in some browsers, focus or a permission; execCommand is the fallback older pages used).

export interface ClipboardEnv {
  clipboard?: { writeText(text: string): Promise<void> } | undefined;
  /** document.execCommand("copy") on a selected, off-screen textarea; false when that fails. */
  legacyCopy?: (text: string) => boolean;
}

export function legacyCopy(text: string): boolean {
  if (typeof document === "undefined") return false;
  const area = document.createElement("textarea");
  area.value = text;
  area.setAttribute("readonly", "");
  area.style.position = "fixed";
  area.style.left = "-9999px";
  document.body.appendChild(area);
  try {
    area.select();
    return typeof document.execCommand === "function" && document.execCommand("copy");
  } catch {
    return false;
  } finally {
    area.remove();
  }
}

/** True when `text` reached the clipboard, by the Clipboard API or else the legacy way. */
export async function copyText(text: string, env: ClipboardEnv = defaultEnv()): Promise<boolean> {
  if (env.clipboard) {
    try {
      await env.clipboard.writeText(text);
      return true;
    } catch {
      /* denied or unavailable: try the legacy way */
    }
  }
  return env.legacyCopy ? env.legacyCopy(text) : false;
}

function defaultEnv(): ClipboardEnv {
  return { clipboard: typeof navigator !== "undefined" ? navigator.clipboard : undefined, legacyCopy };
}

/** The words shown after a copy attempt. */
export function copyMessage(ok: boolean, link: string): string {
  return ok ? "Link copied to the clipboard." : `Could not copy the link; copy it by hand: ${link}`;
}
