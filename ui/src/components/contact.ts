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
//
// Moving our identity to another computer of ours ("Your key"): #export-identity asks first
// (#export-identity-confirm: #export-identity-show, #export-identity-cancel), then shows the
// secret in the read-only #identity-secret with #copy-identity and #hide-identity
// (#identity-export-error on failure). #import-identity opens #identity-import
// (#identity-import-text, #identity-import-submit, #identity-import-cancel,
// #identity-import-error); after an import #identity-import-done says which key this computer
// signs with now, and the session reconnects. The secret lives only in the textarea's value:
// never in the model, never logged; hiding, closing the panel or a new session clears it.

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
  /** Our private identity key as text (secret: shown, copied, never kept). */
  exportIdentity(): Promise<string>;
  /** Makes this computer sign as the identity `text` from the next connect on. */
  importIdentity(text: string): Promise<IdentityInfo>;
  /** Disconnects and connects again with the saved profile (an imported key takes effect). */
  reconnect(): Promise<void>;
  /** The panel was closed. */
  closed(): void;
}

/** Characters of the new public key named after an import. */
const KEY_PREFIX = 12;

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
  private readonly exportButton: HTMLButtonElement;
  private readonly exportConfirm: HTMLElement;
  private readonly exportShow: HTMLButtonElement;
  private readonly secret: HTMLTextAreaElement;
  private readonly secretActions: HTMLElement;
  private readonly copyButton: HTMLButtonElement;
  private readonly exportError: HTMLElement;
  private readonly importButton: HTMLButtonElement;
  private readonly importForm: HTMLElement;
  private readonly importText: HTMLTextAreaElement;
  private readonly importSubmit: HTMLButtonElement;
  private readonly importError: HTMLElement;
  private readonly importDone: HTMLElement;
  /** Bumped whenever the secret is hidden, so an export answering late is dropped. */
  private exportSeq = 0;
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

    this.exportButton = h("button", { type: "button", id: "export-identity" }, "Use this identity on another computer…");
    this.exportShow = h("button", { type: "button", id: "export-identity-show", class: "primary" }, "Show my identity key");
    const exportCancel = h("button", { type: "button", id: "export-identity-cancel" }, "Cancel");
    this.exportConfirm = h(
      "div",
      { id: "export-identity-confirm", class: "identity-step loud-box", role: "alertdialog", "aria-label": "Your identity key is a secret", hidden: true },
      h(
        "p",
        {},
        "⚠ Your identity key is a secret. Anyone who has it can sign messages as you, and your contacts cannot tell them from yours. Paste it only into your own Redchat on your other computer — never into a chat, an email or a website.",
      ),
      h("div", { class: "identity-buttons" }, this.exportShow, exportCancel),
    );
    this.secret = h("textarea", {
      id: "identity-secret",
      class: "identity-text",
      readonly: true,
      rows: "3",
      spellcheck: "false",
      autocomplete: "off",
      autocapitalize: "off",
      "aria-label": "Your identity key (secret)",
      hidden: true,
    });
    this.copyButton = h("button", { type: "button", id: "copy-identity" }, "Copy");
    const hideButton = h("button", { type: "button", id: "hide-identity" }, "Hide");
    this.secretActions = h("div", { class: "identity-buttons", hidden: true }, this.copyButton, hideButton);
    this.exportError = h("p", { class: "error", id: "identity-export-error", role: "alert" });

    this.importButton = h("button", { type: "button", id: "import-identity" }, "Use the identity of another computer…");
    this.importText = h("textarea", {
      id: "identity-import-text",
      class: "identity-text",
      rows: "3",
      spellcheck: "false",
      autocomplete: "off",
      autocapitalize: "off",
      placeholder: "redchat-identity-v1:…",
      "aria-label": "Identity key from your other computer",
    });
    this.importSubmit = h("button", { type: "button", id: "identity-import-submit", class: "primary" }, "Import and reconnect");
    const importCancel = h("button", { type: "button", id: "identity-import-cancel" }, "Cancel");
    this.importError = h("p", { class: "error", id: "identity-import-error", role: "alert" });
    this.importForm = h(
      "div",
      { id: "identity-import", class: "identity-step", hidden: true },
      h(
        "p",
        {},
        "With a different key on each computer, people see a new key (and a warning) whenever you write from the other one. Paste here the text that “Use this identity on another computer…” shows in Redchat on your other computer, and this computer signs as that identity too.",
      ),
      h(
        "p",
        { class: "loud" },
        "People who know this computer's current key will see your messages as signed by a new key, unless you import here the key they already know. This computer's current key is replaced.",
      ),
      this.importText,
      h("div", { class: "identity-buttons" }, this.importSubmit, importCancel),
      this.importError,
    );
    this.importDone = h("p", { id: "identity-import-done", class: "identity-done", role: "status", hidden: true });
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
      h(
        "div",
        { class: "identity-move" },
        this.exportButton,
        this.exportConfirm,
        this.secret,
        this.secretActions,
        this.exportError,
        this.importButton,
        this.importForm,
        this.importDone,
      ),
      h("div", { class: "contact-actions" }, this.blockButton),
      this.error,
    );
    const signal = this.abort.signal;
    close.addEventListener("click", () => this.close(), { signal });
    this.markButton.addEventListener("click", () => void this.act((user) => this.deps.markVerified(user, !this.shown?.verified, this.shown?.key ?? this.shown?.publishedKey ?? null)), { signal });
    this.acceptButton.addEventListener("click", () => void this.act((user) => this.deps.acceptNewKey(user, this.shown?.newKey ?? null)), { signal });
    this.blockButton.addEventListener("click", () => void this.toggleBlock(), { signal });
    this.exportButton.addEventListener("click", () => this.askExport(), { signal });
    exportCancel.addEventListener("click", () => this.hideSecret(), { signal });
    this.exportShow.addEventListener("click", () => void this.showSecret(), { signal });
    this.copyButton.addEventListener("click", () => void this.copySecret(), { signal });
    hideButton.addEventListener("click", () => this.hideSecret(), { signal });
    this.importButton.addEventListener("click", () => this.openImport(), { signal });
    importCancel.addEventListener("click", () => this.closeImport(), { signal });
    this.importSubmit.addEventListener("click", () => void this.submitImport(), { signal });
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
    this.hideSecret();
    this.closeImport();
    this.importDone.hidden = true;
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

  /** "Use this identity on another computer…": first the warning that it is a secret. */
  private askExport(): void {
    this.hideSecret();
    this.exportConfirm.hidden = false;
    this.exportShow.focus();
  }

  /** The user read the warning: fetch the secret and show it (only in the textarea). */
  private async showSecret(): Promise<void> {
    const seq = ++this.exportSeq;
    this.exportConfirm.hidden = true;
    setText(this.exportError, "");
    this.exportButton.disabled = true;
    try {
      const text = await this.deps.exportIdentity();
      if (seq !== this.exportSeq || this.user === null) return;
      this.secret.value = text;
      this.secret.hidden = false;
      this.secretActions.hidden = false;
      setText(this.copyButton, "Copy");
      this.secret.focus();
      this.secret.select();
    } catch (raw) {
      if (seq === this.exportSeq) setText(this.exportError, `Couldn't get your identity key: ${toIpcError(raw).message}`);
    } finally {
      if (seq === this.exportSeq) this.exportButton.disabled = false;
    }
  }

  private async copySecret(): Promise<void> {
    const text = this.secret.value;
    if (!text) return;
    setText(this.exportError, "");
    const clipboard = typeof navigator !== "undefined" ? navigator.clipboard : undefined;
    if (typeof clipboard?.writeText === "function") {
      try {
        await clipboard.writeText(text);
        if (this.secret.value === text) setText(this.copyButton, "Copied");
        return;
      } catch {
        // Not allowed here: the user copies it by hand.
      }
    }
    if (this.secret.value !== text) return;
    this.secret.focus();
    this.secret.select();
    setText(this.exportError, "Couldn't copy it: it is selected, copy it with the keyboard (Ctrl+C or ⌘C).");
  }

  /** Hides the secret and forgets it (the textarea was the only place it was). */
  private hideSecret(): void {
    this.exportSeq++;
    this.secret.value = "";
    this.secret.hidden = true;
    this.secretActions.hidden = true;
    this.exportConfirm.hidden = true;
    this.exportButton.disabled = false;
    setText(this.copyButton, "Copy");
    setText(this.exportError, "");
  }

  private openImport(): void {
    this.importForm.hidden = false;
    this.importDone.hidden = true;
    setText(this.importError, "");
    this.importText.focus();
  }

  private closeImport(): void {
    this.importText.value = "";
    this.importForm.hidden = true;
    setText(this.importError, "");
  }

  /** Imports the pasted identity, then reconnects so the session signs with it. */
  private async submitImport(): Promise<void> {
    const text = this.importText.value;
    if (text.trim() === "") {
      setText(this.importError, "Paste the identity text from your other computer first.");
      return;
    }
    setText(this.importError, "");
    this.importSubmit.disabled = true;
    let info: IdentityInfo;
    try {
      info = await this.deps.importIdentity(text);
    } catch (raw) {
      if (!this.importForm.hidden) setText(this.importError, `Couldn't use that identity: ${toIpcError(raw).message}`);
      this.importSubmit.disabled = false;
      return;
    }
    this.importText.value = "";
    this.importForm.hidden = true;
    this.importSubmit.disabled = false;
    setText(this.importDone, `This computer now signs as ${info.key.slice(0, KEY_PREFIX)}…`);
    this.importDone.hidden = false;
    this.identity = Promise.resolve(info);
    void this.loadIdentity();
    this.importButton.disabled = true;
    try {
      await this.deps.reconnect();
    } finally {
      this.importButton.disabled = false;
      // Our key (and so every safety number) is another one now.
      this.identity = null;
      this.refresh();
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
    this.hideSecret();
    this.closeImport();
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
