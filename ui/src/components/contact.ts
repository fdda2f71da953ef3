// The contact panel of a direct conversation (opened with #contact-info in its header), like
// Signal's: who it is, whether they are a contact, request or blocked, the safety number to
// compare in person (12 groups of 5 digits), whether it was verified, and, when they sign with
// a key other than the one we know, why that matters and a button to trust the new key. It also
// says where our own private key is kept (keychain, or loudly: a file, or memory only).
//
// Selectors (WebDriver tests): #contact-panel (data-state: loading|ready|error; data-user),
// #contact-user, #contact-standing (data-standing), #safety-number (.group × 12), #contact-verified
// (data-verified), #mark-verified, #new-key (hidden unless a new key), #accept-key,
// #published-key-mismatch, #key-storage (data-storage: keychain|file|memory), #contact-block,
// #contact-close, #contact-error.

import { h, replaceChildren, type Disposable } from "../dom";
import { toIpcError, type Contact, type IdentityInfo, type KeyStorage, type Standing } from "../ipc";
import { visibleName } from "../trust";

export interface ContactDeps {
  contact(user: string): Promise<Contact>;
  /** `key`: the key whose safety number was shown (nothing is marked if another is pinned by now). */
  markVerified(user: string, verified: boolean, key: string | null): Promise<Contact>;
  /** `key`: the new key that was shown (nothing is trusted if another was seen since). */
  acceptNewKey(user: string, key: string | null): Promise<Contact>;
  identityInfo(): Promise<IdentityInfo>;
  /** Blocks or unblocks `user` (the window updates its lists): a problem, or null. */
  setStanding(user: string, standing: Standing): Promise<string | null>;
  /** The panel was closed. */
  closed(): void;
}

/** What the panel says our private key's place is, and whether that deserves a warning. */
export function storageText(storage: KeyStorage): { text: string; loud: boolean } {
  switch (storage.kind) {
    case "keychain":
      return { text: "Your private key is kept in the system keychain.", loud: false };
    case "file":
      return { text: `⚠ Your private key is in a file only you can read: ${storage.path} (no keychain on this computer)`, loud: true };
    case "memory":
      return {
        text: "⚠ Your private key is only in memory: it is lost when Redchat quits, and your contacts will then see a new safety number.",
        loud: true,
      };
  }
}

const STANDING: Record<Standing, string> = {
  contact: "In your contacts",
  request: "Not in your contacts (message request)",
  blocked: "Blocked: their messages are dropped",
};

export class ContactPanel implements Disposable {
  readonly el: HTMLElement;
  private readonly abort = new AbortController();
  private readonly title: HTMLElement;
  private readonly standing: HTMLElement;
  private readonly safety: HTMLElement;
  private readonly verifiedLine: HTMLElement;
  private readonly markButton: HTMLButtonElement;
  private readonly newKey: HTMLElement;
  private readonly newKeyText: HTMLElement;
  private readonly acceptButton: HTMLButtonElement;
  private readonly mismatch: HTMLElement;
  private readonly keys: HTMLElement;
  private readonly storage: HTMLElement;
  private readonly blockButton: HTMLButtonElement;
  private readonly error: HTMLElement;
  private identity: Promise<IdentityInfo> | null = null;
  private shown: Contact | null = null;
  /** Who the panel is about (null: closed). */
  user: string | null = null;
  private seq = 0;

  constructor(private readonly deps: ContactDeps) {
    this.title = h("h2", { id: "contact-user", dir: "auto" });
    const close = h("button", { type: "button", class: "dismiss", id: "contact-close", "aria-label": "Close contact info" }, "×");
    this.standing = h("p", { id: "contact-standing", class: "standing" });
    this.safety = h("div", { id: "safety-number", class: "safety-number", "aria-label": "Safety number" });
    this.verifiedLine = h("p", { id: "contact-verified", class: "verified-line" });
    this.markButton = h("button", { type: "button", id: "mark-verified" }, "Mark as verified");
    this.newKeyText = h("p", { class: "new-key-text" });
    this.acceptButton = h("button", { type: "button", id: "accept-key", class: "primary" }, "Trust the new key");
    this.newKey = h("div", { id: "new-key", class: "new-key", role: "alert", hidden: true }, this.newKeyText, this.acceptButton);
    this.mismatch = h(
      "p",
      { id: "published-key-mismatch", class: "loud", hidden: true },
      "⚠ The key this person publishes on the server is not the one their messages are signed with.",
    );
    this.keys = h("dl", { class: "keys" });
    this.storage = h("p", { id: "key-storage", class: "key-storage" });
    this.blockButton = h("button", { type: "button", id: "contact-block" }, "Block");
    this.error = h("p", { class: "error", id: "contact-error", role: "alert" });
    this.el = h(
      "aside",
      { class: "contact-panel", id: "contact-panel", "aria-label": "Contact info", hidden: true },
      h("header", { class: "contact-head" }, this.title, close),
      this.standing,
      h("h3", {}, "Safety number"),
      this.safety,
      this.verifiedLine,
      this.markButton,
      this.newKey,
      this.mismatch,
      h("details", { class: "keys-details" }, h("summary", {}, "Keys"), this.keys),
      h("h3", {}, "Your key"),
      this.storage,
      h("div", { class: "contact-actions" }, this.blockButton),
      this.error,
    );
    const signal = this.abort.signal;
    close.addEventListener("click", () => this.close(), { signal });
    this.markButton.addEventListener("click", () => void this.act((user) => this.deps.markVerified(user, !this.shown?.verified, this.shown?.key ?? this.shown?.publishedKey ?? null)), { signal });
    this.acceptButton.addEventListener("click", () => void this.act((user) => this.deps.acceptNewKey(user, this.shown?.newKey ?? null)), { signal });
    this.blockButton.addEventListener("click", () => void this.toggleBlock(), { signal });
  }

  get isOpen(): boolean {
    return this.user !== null;
  }

  /** Shows the panel for `user` and loads what is known of them. */
  open(user: string): void {
    if (this.user !== user) this.shown = null;
    this.user = user;
    this.el.hidden = false;
    this.el.dataset.user = user;
    setText(this.title, visibleName(user));
    void this.load();
  }

  close(): void {
    if (this.user === null) return;
    this.user = null;
    this.shown = null;
    this.seq++;
    this.el.hidden = true;
    this.deps.closed();
  }

  /** Loads it again (a key changed, the standing changed elsewhere). */
  refresh(): void {
    if (this.user !== null) void this.load();
  }

  /** A new session: our identity may be another one. */
  reset(): void {
    this.identity = null;
    this.close();
  }

  private async load(): Promise<void> {
    const user = this.user;
    if (user === null) return;
    const seq = ++this.seq;
    this.el.dataset.state = "loading";
    if (!this.shown) this.renderLoading();
    this.showError(null);
    void this.loadIdentity();
    try {
      const contact = await this.deps.contact(user);
      if (seq !== this.seq) return;
      this.render(contact);
    } catch (raw) {
      if (seq !== this.seq) return;
      this.el.dataset.state = "error";
      this.showError(`Couldn't load ${visibleName(user)}'s keys: ${toIpcError(raw).message}`);
    }
  }

  private async loadIdentity(): Promise<void> {
    this.identity ??= this.deps.identityInfo();
    try {
      const info = await this.identity;
      if (this.user === null) return;
      const { text, loud } = storageText(info.storage);
      setText(this.storage, text);
      this.storage.dataset.storage = info.storage.kind;
      this.storage.classList.toggle("loud", loud);
    } catch (raw) {
      this.identity = null;
      if (this.user === null) return;
      setText(this.storage, `Where your private key is kept is not known: ${toIpcError(raw).message}`);
      delete this.storage.dataset.storage;
    }
  }

  /** Runs a call that returns the updated contact. */
  private async act(call: (user: string) => Promise<Contact>): Promise<void> {
    const user = this.user;
    if (user === null) return;
    const seq = ++this.seq;
    this.setBusy(true);
    this.showError(null);
    try {
      const contact = await call(user);
      if (seq === this.seq) this.render(contact);
    } catch (raw) {
      if (seq === this.seq) this.showError(toIpcError(raw).message);
    } finally {
      if (seq === this.seq) this.setBusy(false);
    }
  }

  private async toggleBlock(): Promise<void> {
    const user = this.user;
    if (user === null || !this.shown) return;
    const standing: Standing = this.shown.standing === "blocked" ? "contact" : "blocked";
    this.setBusy(true);
    const problem = await this.deps.setStanding(user, standing);
    this.setBusy(false);
    if (problem !== null) this.showError(problem);
    else if (this.user === user) this.refresh();
  }

  private renderLoading(): void {
    setText(this.standing, "Loading…");
    replaceChildren(this.safety);
    setText(this.verifiedLine, "");
    this.markButton.hidden = true;
    this.newKey.hidden = true;
    this.mismatch.hidden = true;
    replaceChildren(this.keys);
    this.blockButton.hidden = true;
  }

  private render(c: Contact): void {
    this.shown = c;
    this.el.dataset.state = "ready";
    const name = visibleName(this.user ?? c.user);
    setText(this.standing, STANDING[c.standing] ?? c.standing);
    this.standing.dataset.standing = c.standing;
    if (c.safetyNumber) {
      this.safety.classList.remove("empty");
      replaceChildren(this.safety, ...c.safetyNumber.trim().split(/\s+/u).map((group) => h("span", { class: "group" }, group)));
    } else {
      this.safety.classList.add("empty");
      replaceChildren(this.safety, h("span", { class: "hint" }, `No safety number yet: ${name} has not sent you a signed message.`));
    }
    this.verifiedLine.dataset.verified = String(c.verified);
    setText(
      this.verifiedLine,
      c.verified ? `✓ Verified: you compared this safety number with ${name}.` : `Not verified. Compare the safety number with ${name} in person or on a call; if it is the same on both screens, mark it verified.`,
    );
    this.markButton.hidden = false;
    this.markButton.disabled = !c.safetyNumber;
    setText(this.markButton, c.verified ? "Unmark verified" : "Mark as verified");
    this.newKey.hidden = c.newKey === null;
    setText(
      this.newKeyText,
      c.newKey === null
        ? ""
        : `⚠ ${name} is signing with a new key. That happens when they reinstall Redchat or use another computer — or when someone else is pretending to be them. Messages signed with it are marked until you trust it; ask ${name} (in person or on a call) before you do. Trusting it changes the safety number, and it is no longer verified.`,
    );
    this.mismatch.hidden = !(c.publishedKey !== null && c.key !== null && c.publishedKey !== c.key);
    replaceChildren(
      this.keys,
      ...keyRow("Their key", c.key ?? "none yet"),
      ...(c.newKey ? keyRow("New key (not trusted)", c.newKey) : []),
      ...keyRow("Published on the server", c.publishedKey ?? "none"),
      ...keyRow("Your key", c.myKey),
    );
    this.blockButton.hidden = false;
    setText(this.blockButton, c.standing === "blocked" ? "Unblock" : "Block");
  }

  private setBusy(busy: boolean): void {
    for (const button of [this.markButton, this.acceptButton, this.blockButton]) button.disabled = busy;
    if (!busy && this.shown) this.markButton.disabled = !this.shown.safetyNumber;
  }

  private showError(message: string | null): void {
    setText(this.error, message ?? "");
  }

  dispose(): void {
    this.abort.abort();
    this.el.remove();
  }
}

function keyRow(label: string, value: string): HTMLElement[] {
  return [h("dt", {}, label), h("dd", { class: "key" }, value)];
}

function setText(el: HTMLElement, text: string): void {
  if (el.textContent !== text) el.textContent = text;
}
