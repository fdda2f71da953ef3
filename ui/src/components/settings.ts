// The settings form: connection string (validated inline as you type), optional password,
// username, delivery mode, "Share when I am online" (#share-presence, default on), namespace. The password field is never pre-filled: it lives in the
// keychain.

import { normaliseName, usernameProblem } from "../compose";
import { h, replaceChildren, type Disposable } from "../dom";
import type { ConnectionCheck, ConnectRequest, DeliveryMode, IpcError, Profile, ProfileView } from "../ipc";

/** A connect request from a saved profile (profiles saved before sharePresence existed share it). */
export function requestOf(profile: Profile): ConnectRequest {
  return { ...profile, sharePresence: profile.sharePresence !== false };
}

/** The delivery choices, with what each means for the user. */
export const DELIVERY_CHOICES: { mode: DeliveryMode; label: string; explanation: string }[] = [
  {
    mode: "durable",
    label: "Durable (recommended)",
    explanation:
      "Messages to people who are offline are kept on the Redis server (in Redis Streams) and delivered when they connect; your history is kept (about the last 10,000 messages per inbox).",
  },
  {
    mode: "liveOnly",
    label: "Live only (like the original client)",
    explanation:
      "A message reaches only whoever is connected at that moment. Nothing is stored: messages to offline people are lost and there is no history.",
  },
];

export interface SettingsDeps {
  check(connection: string): Promise<ConnectionCheck>;
  submit(request: ConnectRequest): void;
  cancel(): void;
}

export class SettingsDialog implements Disposable {
  readonly el: HTMLElement;
  private readonly abort = new AbortController();
  private readonly connection: HTMLInputElement;
  private readonly password: HTMLInputElement;
  private readonly username: HTMLInputElement;
  private readonly namespace: HTMLInputElement;
  private readonly deliveryInputs: HTMLInputElement[];
  private readonly sharePresence: HTMLInputElement;
  private readonly connectionHint: HTMLElement;
  private readonly usernameHint: HTMLElement;
  private readonly passwordHint: HTMLElement;
  private readonly error: HTMLElement;
  private readonly submitButton: HTMLButtonElement;
  private checkSeq = 0;
  private connectionValid = true;

  constructor(private readonly deps: SettingsDeps) {
    const signal = this.abort.signal;
    this.connection = h("input", {
      id: "connection",
      type: "text",
      spellcheck: "false",
      autocomplete: "off",
      placeholder: "redis://host:6379  or  name.redis.cache.windows.net:6380,password=…,ssl=True",
    });
    this.password = h("input", { id: "password", type: "password", autocomplete: "off", placeholder: "only if not in the connection string" });
    this.username = h("input", { id: "username", type: "text", spellcheck: "false", autocomplete: "off", placeholder: "e.g. alice" });
    this.namespace = h("input", { id: "namespace", type: "text", spellcheck: "false", autocomplete: "off", placeholder: "empty = same inboxes as the original client" });
    this.connectionHint = h("p", { class: "hint", id: "connection-hint" });
    this.usernameHint = h("p", { class: "hint", id: "username-hint" });
    this.passwordHint = h("p", { class: "hint", id: "password-hint" });
    this.error = h("p", { class: "error", id: "settings-error", role: "alert" });
    this.submitButton = h("button", { type: "submit", id: "connect", class: "primary" }, "Connect");
    const cancel = h("button", { type: "button", id: "settings-cancel" }, "Cancel");
    this.sharePresence = h("input", { type: "checkbox", id: "share-presence", checked: true, "aria-describedby": "share-presence-hint" });
    const presence = h(
      "div",
      { class: "choice presence" },
      this.sharePresence,
      h("label", { for: "share-presence" }, "Share when I am online"),
      h("p", { class: "hint", id: "share-presence-hint" }, "Others see a green dot next to your name while you are connected, and when you were last seen."),
    );
    this.deliveryInputs = DELIVERY_CHOICES.map(({ mode }) =>
      h("input", { type: "radio", name: "delivery", value: mode, id: `delivery-${mode}`, "data-delivery": mode, "aria-describedby": `delivery-${mode}-hint` }),
    );
    const delivery = h(
      "fieldset",
      { class: "delivery", id: "delivery" },
      h("legend", {}, "Delivery"),
      ...DELIVERY_CHOICES.map(({ mode, label, explanation }, i) =>
        h(
          "div",
          { class: "choice" },
          this.deliveryInputs[i],
          h("label", { for: `delivery-${mode}` }, label),
          h("p", { class: "hint", id: `delivery-${mode}-hint` }, explanation),
        ),
      ),
    );

    const form = h(
      "form",
      { class: "settings", id: "settings", novalidate: true },
      h("h2", {}, "Connection"),
      h("label", { for: "connection" }, "Redis connection string"),
      this.connection,
      this.connectionHint,
      h("label", { for: "password" }, "Password / access key"),
      this.password,
      this.passwordHint,
      h("label", { for: "username" }, "Username"),
      this.username,
      this.usernameHint,
      delivery,
      presence,
      h("details", {}, h("summary", {}, "Advanced"), h("label", { for: "namespace" }, "Channel prefix (namespace)"), this.namespace),
      this.error,
      h("div", { class: "actions" }, cancel, this.submitButton),
    );
    this.el = h("div", { class: "overlay", hidden: true }, form);

    this.connection.addEventListener("input", () => void this.validateConnection(), { signal });
    this.username.addEventListener("input", () => this.validateUsername(), { signal });
    cancel.addEventListener("click", () => deps.cancel(), { signal });
    form.addEventListener(
      "submit",
      (e) => {
        e.preventDefault();
        this.onSubmit();
      },
      { signal },
    );
  }

  get visible(): boolean {
    return !this.el.hidden;
  }

  /** Shows the form filled from `view`, with `error` (if any) at the bottom. */
  show(view: ProfileView, error: IpcError | null = null): void {
    this.connection.value = view.profile.connection;
    this.username.value = view.profile.username;
    this.namespace.value = view.profile.namespace;
    this.password.value = "";
    this.delivery = view.profile.delivery ?? "durable";
    // Profiles saved before the setting existed share presence.
    this.sharePresence.checked = view.profile.sharePresence !== false;
    const keychain = view.keychainProblem
      ? "No system keychain is available here, so the password is kept for this session only and asked for again next time."
      : view.passwordSaved
        ? "A password for this server is saved in the system keychain."
        : "Saved in the system keychain, never in the settings file.";
    this.passwordHint.textContent = keychain;
    this.el.hidden = false;
    this.showError(error);
    void this.validateConnection();
    this.validateUsername();
    (error?.code === "password_required" || error?.code === "auth" ? this.password : this.username.value ? this.connection : this.username).focus();
  }

  hide(): void {
    this.el.hidden = true;
  }

  busy(on: boolean): void {
    this.submitButton.disabled = on;
    this.submitButton.textContent = on ? "Connecting…" : "Connect";
  }

  showError(error: IpcError | null): void {
    replaceChildren(this.error, error ? error.message : null);
    this.error.dataset.code = error?.code ?? "";
  }

  /** The delivery mode chosen (durable unless live-only is checked). */
  get delivery(): DeliveryMode {
    return this.deliveryInputs.find((input) => input.checked)?.value === "liveOnly" ? "liveOnly" : "durable";
  }

  set delivery(mode: DeliveryMode) {
    for (const input of this.deliveryInputs) input.checked = input.value === mode;
  }

  private async validateConnection(): Promise<void> {
    const seq = ++this.checkSeq;
    const value = this.connection.value;
    try {
      const check = await this.deps.check(value);
      if (seq !== this.checkSeq) return;
      this.connectionValid = true;
      const parts = [`${check.tls ? "TLS" : "plain TCP"} to ${check.addr}`];
      if (check.user) parts.push(`user ${check.user}`);
      if (check.hasPassword) parts.push("password given");
      if (check.db) parts.push(`db ${check.db}`);
      this.connectionHint.textContent = [parts.join(", "), ...check.notes].join(" · ");
      this.connectionHint.className = "hint";
    } catch (e) {
      if (seq !== this.checkSeq) return;
      this.connectionValid = false;
      this.connectionHint.textContent = (e as IpcError).message;
      this.connectionHint.className = "hint invalid";
    }
  }

  private validateUsername(): boolean {
    const problem = usernameProblem(normaliseName(this.username.value));
    this.usernameHint.textContent = problem ?? `Your inbox: ${this.namespace.value.trim()}${normaliseName(this.username.value)}`;
    this.usernameHint.className = problem ? "hint invalid" : "hint";
    return problem === null;
  }

  private onSubmit(): void {
    if (!this.validateUsername()) {
      this.username.focus();
      return;
    }
    if (!this.connectionValid) {
      this.connection.focus();
      return;
    }
    const request: ConnectRequest = {
      connection: this.connection.value,
      username: this.username.value,
      namespace: this.namespace.value,
      delivery: this.delivery,
      sharePresence: this.sharePresence.checked,
    };
    if (this.password.value) request.password = this.password.value;
    this.deps.submit(request);
  }

  dispose(): void {
    this.abort.abort();
    this.el.remove();
  }
}
