// The contact panel: safety number, verifying, trusting a new key, where our key is kept.

import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { clearMocks } from "@tauri-apps/api/mocks";
import type * as ipc from "./ipc";
import { storageText } from "./components/contact";
import { deferred, el, type Harness, message, settle, start, text } from "./test/harness";

const SAFETY = "12345 67890 11111 22222 33333 44444 55555 66666 77777 88888 99999 00000";

function bob(partial: Partial<ipc.Contact> = {}): ipc.Contact {
  return {
    user: "bob",
    standing: "contact",
    key: "Ym9iJ3Mga2V5",
    publishedKey: "Ym9iJ3Mga2V5",
    verified: false,
    newKey: null,
    safetyNumber: SAFETY,
    myKey: "YWxpY2UncyBrZXk=",
    ...partial,
  };
}

describe("contact panel", () => {
  let harness: Harness | null = null;
  beforeEach(() => {
    document.body.replaceChildren();
  });
  afterEach(() => {
    harness?.app.dispose();
    harness = null;
    clearMocks();
  });

  async function openBob(contact: () => ipc.Contact, storage: ipc.KeyStorage = { kind: "keychain" }, more: Record<string, (cmd: string, args: Record<string, unknown>) => unknown> = {}): Promise<Harness> {
    let verified = false;
    const h = await start({
      contact: () => ({ ...contact(), verified }),
      mark_verified: (_c, args) => {
        verified = args.verified === true;
        return { ...contact(), verified };
      },
      identity_info: () => ({ key: "YWxpY2UncyBrZXk=", storage }),
      ...more,
    });
    h.push([{ kind: "chat", ...message({ content: "hi", sender: "bob" }) }]);
    await settle();
    expect(el("#contact-panel").hidden).toBe(true);
    el<HTMLButtonElement>("#contact-info").click();
    await settle();
    return h;
  }

  it("shows the safety number in groups and marks it verified", async () => {
    harness = await openBob(() => bob());
    expect(harness.callsOf("contact")).toEqual([{ user: "bob" }]);
    expect(harness.callsOf("identity_info")).toHaveLength(1);
    expect(el("#contact-panel").hidden).toBe(false);
    expect(el("#contact-panel").dataset.state).toBe("ready");
    expect(text("#contact-user")).toBe("bob");
    const groups = [...document.querySelectorAll("#safety-number .group")].map((g) => g.textContent);
    expect(groups).toHaveLength(12);
    expect(groups.join(" ")).toBe(SAFETY);
    expect(el("#contact-verified").dataset.verified).toBe("false");
    expect(text("#mark-verified")).toBe("Mark as verified");
    expect(el("#new-key").hidden).toBe(true);
    expect(text("#key-storage")).toBe("Your private key is kept in the system keychain.");
    expect(el("#key-storage").dataset.storage).toBe("keychain");

    el<HTMLButtonElement>("#mark-verified").click();
    await settle();
    // The key whose number was shown goes along: nothing is marked if it changed meanwhile.
    expect(harness.callsOf("mark_verified")).toEqual([{ user: "bob", verified: true, key: "Ym9iJ3Mga2V5" }]);
    expect(el("#contact-verified").dataset.verified).toBe("true");
    expect(text("#contact-verified")).toContain("Verified");
    expect(text("#mark-verified")).toBe("Unmark verified");
    el<HTMLButtonElement>("#mark-verified").click();
    await settle();
    expect(harness.callsOf("mark_verified").at(-1)).toEqual({ user: "bob", verified: false, key: "Ym9iJ3Mga2V5" });
    expect(text("#mark-verified")).toBe("Mark as verified");

    // The header button closes it again; a room has no contact button.
    el<HTMLButtonElement>("#contact-info").click();
    expect(el("#contact-panel").hidden).toBe(true);
  });

  it("explains a new key and trusts it only when asked; a key change reloads the panel", async () => {
    let contact = bob({ newKey: "bmV3IGtleQ==" });
    harness = await openBob(() => contact, { kind: "file", path: "/home/alice/.config/redchat/identity.key" }, {
      accept_new_key: () => {
        contact = bob({ key: "bmV3IGtleQ==", publishedKey: "bmV3IGtleQ==", safetyNumber: SAFETY.replace("12345", "54321") });
        return contact;
      },
    });
    expect(el("#new-key").hidden).toBe(false);
    expect(text("#new-key")).toContain("bob is signing with a new key");
    expect(text("#accept-key")).toBe("Trust the new key");
    expect(text("#key-storage")).toBe("⚠ Your private key is in a file only you can read: /home/alice/.config/redchat/identity.key (no keychain on this computer)");
    expect(el("#key-storage").classList.contains("loud")).toBe(true);
    el<HTMLButtonElement>("#accept-key").click();
    await settle();
    expect(harness.callsOf("accept_new_key")).toEqual([{ user: "bob", key: "bmV3IGtleQ==" }]);
    expect(el("#new-key").hidden).toBe(true);
    expect(text("#safety-number")).toContain("54321");

    const before = harness.callsOf("contact").length;
    harness.push([{ kind: "keyChanged", conversation: "@bob", user: "bob" }]);
    await settle();
    expect(harness.callsOf("contact").length).toBe(before + 1);
  });

  it("says so when there is no safety number yet, and follows the open conversation", async () => {
    harness = await openBob(() => bob({ key: null, publishedKey: null, safetyNumber: null }));
    expect(text("#safety-number")).toContain("No safety number yet");
    expect(el<HTMLButtonElement>("#mark-verified").disabled).toBe(true);
    harness.push([{ kind: "chat", ...message({ content: "yo", sender: "carol" }) }]);
    await settle();
    document.querySelector<HTMLElement>("#directs li[data-conversation='@carol']")?.click();
    await settle();
    expect(harness.callsOf("contact").at(-1)).toEqual({ user: "carol" });
    expect(el("#contact-panel").dataset.user).toBe("carol");
  });

  it("words every place our key can be kept", () => {
    expect(storageText({ kind: "keychain" })).toEqual({ text: "Your private key is kept in the system keychain.", loud: false });
    expect(storageText({ kind: "file", path: "/k" }).loud).toBe(true);
    expect(storageText({ kind: "memory" }).text).toContain("only in memory");
  });
});

describe("moving our identity to another computer", () => {
  const SECRET = "redchat-identity-v1:c2VjcmV0IHNlZWQgb2YgYWxpY2UgMDEyMzQ1Njc4OQ==";
  let harness: Harness | null = null;
  beforeEach(() => {
    document.body.replaceChildren();
  });
  afterEach(() => {
    harness?.app.dispose();
    harness = null;
    clearMocks();
    vi.unstubAllGlobals();
  });

  async function openPanel(more: Record<string, (cmd: string, args: Record<string, unknown>) => unknown> = {}): Promise<Harness> {
    const h = await start({
      contact: () => bob(),
      identity_info: () => ({ key: "YWxpY2UncyBrZXk=", storage: { kind: "keychain" } }),
      export_identity: () => SECRET,
      ...more,
    });
    h.push([{ kind: "chat", ...message({ content: "hi", sender: "bob" }) }]);
    await settle();
    el<HTMLButtonElement>("#contact-info").click();
    await settle();
    return h;
  }

  it("shows the secret only after the warning, copies it, and Hide forgets it", async () => {
    const writeText = vi.fn<(text: string) => Promise<void>>(() => Promise.resolve());
    vi.stubGlobal("navigator", { ...navigator, clipboard: { writeText } });
    harness = await openPanel();
    const secret = el<HTMLTextAreaElement>("#identity-secret");
    expect(secret.hidden).toBe(true);
    expect(secret.readOnly).toBe(true);
    expect(el("#export-identity-confirm").hidden).toBe(true);

    el<HTMLButtonElement>("#export-identity").click();
    await settle();
    // The warning first: nothing asked of the backend yet.
    expect(el("#export-identity-confirm").hidden).toBe(false);
    expect(text("#export-identity-confirm")).toContain("Anyone who has it can sign messages as you");
    expect(text("#export-identity-confirm")).toContain("only into your own Redchat");
    expect(harness.callsOf("export_identity")).toHaveLength(0);
    expect(secret.hidden).toBe(true);
    expect(secret.value).toBe("");

    // Cancel: still nothing fetched.
    el<HTMLButtonElement>("#export-identity-cancel").click();
    expect(el("#export-identity-confirm").hidden).toBe(true);
    expect(harness.callsOf("export_identity")).toHaveLength(0);

    el<HTMLButtonElement>("#export-identity").click();
    el<HTMLButtonElement>("#export-identity-show").click();
    await settle();
    expect(harness.callsOf("export_identity")).toEqual([{}]);
    expect(el("#export-identity-confirm").hidden).toBe(true);
    expect(secret.hidden).toBe(false);
    expect(secret.value).toBe(SECRET);
    // Only in the textarea's value: never as text or an attribute of the page.
    expect(document.body.innerHTML).not.toContain("c2VjcmV0");

    el<HTMLButtonElement>("#copy-identity").click();
    await settle();
    expect(writeText).toHaveBeenCalledWith(SECRET);
    expect(text("#copy-identity")).toBe("Copied");

    el<HTMLButtonElement>("#hide-identity").click();
    expect(secret.value).toBe("");
    expect(secret.hidden).toBe(true);
    expect(el<HTMLButtonElement>("#copy-identity").closest<HTMLElement>("div")?.hidden).toBe(true);
  });

  it("closing the panel clears a shown secret, and a late answer is not shown", async () => {
    const late = deferred<string>();
    let first = true;
    harness = await openPanel({
      export_identity: () => {
        if (first) {
          first = false;
          return SECRET;
        }
        return late.promise;
      },
    });
    el<HTMLButtonElement>("#export-identity").click();
    el<HTMLButtonElement>("#export-identity-show").click();
    await settle();
    expect(el<HTMLTextAreaElement>("#identity-secret").value).toBe(SECRET);
    el<HTMLButtonElement>("#contact-close").click();
    expect(el<HTMLTextAreaElement>("#identity-secret").value).toBe("");
    expect(el("#identity-secret").hidden).toBe(true);

    el<HTMLButtonElement>("#contact-info").click();
    await settle();
    el<HTMLButtonElement>("#export-identity").click();
    el<HTMLButtonElement>("#export-identity-show").click();
    await settle();
    el<HTMLButtonElement>("#hide-identity").click();
    late.resolve(SECRET);
    await settle();
    expect(el<HTMLTextAreaElement>("#identity-secret").value).toBe("");
    expect(el("#identity-secret").hidden).toBe(true);
  });

  it("imports the pasted text, says which key signs now, and reconnects", async () => {
    const pasted = `  ${SECRET}\n`;
    harness = await openPanel({
      import_identity: () => ({ key: "TmV3S2V5T2ZBbGljZUZyb21MYXB0b3A=", storage: { kind: "file", path: "/home/alice/.config/redchat/identity.key" } }),
    });
    expect(el("#identity-import").hidden).toBe(true);
    el<HTMLButtonElement>("#import-identity").click();
    expect(el("#identity-import").hidden).toBe(false);
    expect(text("#identity-import")).toContain("People who know this computer's current key will see your messages as signed by a new key");
    expect(text("#identity-import-submit")).toBe("Import and reconnect");
    const connectsBefore = harness.callsOf("connect").length;
    const contactsBefore = harness.callsOf("contact").length;

    el<HTMLTextAreaElement>("#identity-import-text").value = pasted;
    el<HTMLButtonElement>("#identity-import-submit").click();
    await settle();
    expect(harness.callsOf("import_identity")).toEqual([{ text: pasted }]);
    expect(el<HTMLTextAreaElement>("#identity-import-text").value).toBe("");
    expect(el("#identity-import-done").hidden).toBe(false);
    expect(text("#identity-import-done")).toBe("This computer now signs as TmV3S2V5T2ZB…");
    expect(text("#identity-import-error")).toBe("");
    // The Disconnect/Connect path: disconnect, then connect with the saved profile.
    const cmds = harness.calls.map((c) => c.cmd);
    const imported = cmds.indexOf("import_identity");
    const disconnected = cmds.indexOf("disconnect", imported);
    expect(disconnected).toBeGreaterThan(imported);
    expect(cmds.indexOf("load_profile", disconnected)).toBeGreaterThan(disconnected);
    expect(cmds.lastIndexOf("connect")).toBeGreaterThan(disconnected);
    expect(harness.callsOf("connect")).toHaveLength(connectsBefore + 1);
    expect(harness.callsOf("connect").at(-1)?.request).toMatchObject({ username: "alice", connection: "redis://127.0.0.1:6379" });
    expect(text("#status")).toBe("Connected as alice · 127.0.0.1:6379");
    expect(text("#toggle-connection")).toBe("Disconnect");
    // Our key is another one now: the panel loads again.
    expect(harness.callsOf("contact").length).toBeGreaterThan(contactsBefore);
  });

  it("shows why an import failed and does not reconnect", async () => {
    harness = await openPanel({
      import_identity: () => {
        throw { code: "identity", message: "the identity is damaged (base64)" };
      },
    });
    el<HTMLButtonElement>("#import-identity").click();
    el<HTMLTextAreaElement>("#identity-import-text").value = "redchat-identity-v1:!!!";
    el<HTMLButtonElement>("#identity-import-submit").click();
    await settle();
    expect(harness.callsOf("import_identity")).toEqual([{ text: "redchat-identity-v1:!!!" }]);
    expect(text("#identity-import-error")).toContain("the identity is damaged (base64)");
    expect(el("#identity-import-done").hidden).toBe(true);
    expect(harness.callsOf("disconnect")).toHaveLength(0);
    expect(harness.callsOf("connect")).toHaveLength(1);
    // The text stays to be fixed; closing the panel clears it.
    expect(el<HTMLTextAreaElement>("#identity-import-text").value).toBe("redchat-identity-v1:!!!");
    el<HTMLButtonElement>("#contact-close").click();
    expect(el<HTMLTextAreaElement>("#identity-import-text").value).toBe("");
  });
});
