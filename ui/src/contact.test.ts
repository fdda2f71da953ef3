// The contact panel: safety number, verifying, trusting a new key, where our key is kept.

import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { clearMocks } from "@tauri-apps/api/mocks";
import type * as ipc from "./ipc";
import { storageText } from "./components/contact";
import { el, type Harness, message, settle, start, text } from "./test/harness";

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
