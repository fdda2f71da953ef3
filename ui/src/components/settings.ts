// The settings form: connection string (validated inline as you type), optional password,
// username, namespace. The password field is never pre-filled: it lives in the keychain.

import { normaliseName, usernameProblem } from "../compose";
import { h, replaceChildren, type Disposable } from "../dom";
import type { ConnectionCheck, ConnectRequest, IpcError, ProfileView } from "../ipc";

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
    };
    if (this.password.value) request.password = this.password.value;
    this.deps.submit(request);
  }

  dispose(): void {
    this.abort.abort();
    this.el.remove();
  }
}
