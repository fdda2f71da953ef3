// The settings form: connection string (validated inline as you type), optional password,
// username, delivery mode, "Share when I am online" (#share-presence, default on), namespace. The password field is never pre-filled: it lives in the
// keychain.
//
// TLS files (#tls-options, open when one is set): #tls-ca, #tls-cert, #tls-key, each with a
// "Browse…" button (#tls-ca-browse, …) opening a native file dialog. There is no way to skip
// certificate checks. "Check connection" (#run-doctor) shows the doctor's report for the form's
// settings (doctor.ts); a failed connect shows it by itself, under the error, unless the error is
// one the form itself explains. A password that would cross the network unencrypted asks first
// (#plain-password-warning, #plain-password-accept re-sends the request with allowPlainPassword).
//
// Theme (#theme, last before the error and the buttons): follow the system, light or dark. It
// shows the saved choice when the form opens and applies on change (theme.ts), without Connect;
// it is not part of the connect request and never reaches the backend.

import { normaliseName, usernameProblem } from "../compose";
import { h, replaceChildren, type Disposable } from "../dom";
import { toIpcError, type ConnectionCheck, type ConnectRequest, type DeliveryMode, type DoctorReport, type ErrorCode, type IpcError, type Profile, type ProfileView } from "../ipc";
import { chooseTheme, loadTheme, parseTheme, THEME_CHOICES } from "../theme";
import { DoctorPanel } from "./doctor";

/**
 * A connect request from a saved profile (profiles saved before sharePresence existed share it;
 * those saved before TLS files have none).
 */
export function requestOf(profile: Profile): ConnectRequest {
  return {
    ...profile,
    sharePresence: profile.sharePresence !== false,
    tlsCa: profile.tlsCa ?? null,
    tlsCert: profile.tlsCert ?? null,
    tlsKey: profile.tlsKey ?? null,
  };
}

/** Errors the form itself explains (and the fix is in the form): no doctor's report for them. */
// Fixed in the form, so no doctor (and a wrong password is not tried again by the doctor:
// that would count against lockouts and rate limits).
const FORM_ERRORS: readonly ErrorCode[] = ["invalid_settings", "invalid_username", "password_required", "plaintext_password", "auth"];

/** The TLS file fields: id, label, and the file dialog's title. */
const TLS_FILES = [
  { key: "tlsCa", id: "tls-ca", label: "CA certificate file (PEM), trusted besides the system's", title: "CA certificate (PEM)" },
  { key: "tlsCert", id: "tls-cert", label: "Client certificate (PEM), for servers that require one", title: "Client certificate (PEM)" },
  { key: "tlsKey", id: "tls-key", label: "Client key (PEM)", title: "Client key (PEM)" },
] as const;

type TlsKey = (typeof TLS_FILES)[number]["key"];

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
  /** The doctor's report for a request (it lists problems rather than failing). */
  doctor(request: ConnectRequest): Promise<DoctorReport>;
  /** A native file dialog: the path chosen, or null when cancelled. */
  pickFile(title: string): Promise<string | null>;
  /** Opens the log folder; its path. */
  openLogs(): Promise<string>;
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
  private readonly theme: HTMLSelectElement;
  private readonly connectionHint: HTMLElement;
  private readonly usernameHint: HTMLElement;
  private readonly passwordHint: HTMLElement;
  private readonly error: HTMLElement;
  private readonly submitButton: HTMLButtonElement;
  private readonly tlsOptions: HTMLDetailsElement;
  private readonly tlsInputs: Record<TlsKey, HTMLInputElement>;
  private readonly doctor: DoctorPanel;
  private readonly plainWarning: HTMLElement;
  private readonly plainText: HTMLElement;
  /** The request refused with plaintext_password, to send again once the user agrees. */
  private plainRequest: ConnectRequest | null = null;
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
    const tlsRows = TLS_FILES.map(({ key, id, label, title }) => {
      const input = h("input", { id, type: "text", spellcheck: "false", autocomplete: "off", placeholder: "none" });
      const browse = h("button", { type: "button", id: `${id}-browse`, "aria-label": `Browse for the ${title}` }, "Browse…");
      browse.addEventListener("click", () => void this.browse(input, title), { signal });
      return { key, input, row: [h("label", { for: id }, label), h("div", { class: "file-row" }, input, browse)] };
    });
    this.tlsInputs = Object.fromEntries(tlsRows.map(({ key, input }) => [key, input])) as Record<TlsKey, HTMLInputElement>;
    this.tlsOptions = h(
      "details",
      { id: "tls-options", class: "tls-options" },
      h("summary", {}, "TLS (company servers)"),
      ...tlsRows.flatMap(({ row }) => row),
      h(
        "p",
        { class: "hint", id: "tls-hint" },
        "The server's certificate is always checked: there is no option to skip certificate checks. For a private CA, give its certificate file here.",
      ),
    );
    this.doctor = new DoctorPanel((request) => deps.doctor(request));
    this.plainText = h("p", { class: "warning-text" });
    const plainAccept = h("button", { type: "button", id: "plain-password-accept" }, "Send it unencrypted");
    this.plainWarning = h("div", { id: "plain-password-warning", class: "plain-password-warning", role: "alert", hidden: true }, this.plainText, plainAccept);
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

    this.theme = h(
      "select",
      { id: "theme", "aria-describedby": "theme-hint" },
      ...THEME_CHOICES.map(({ choice, label }) => h("option", { value: choice }, label)),
    );
    this.theme.addEventListener("change", () => chooseTheme(parseTheme(this.theme.value)), { signal });

    const openLogs = h("button", { type: "button", id: "open-logs" }, "Open logs folder");
    const logsPath = h("p", { class: "hint", id: "logs-path" });
    openLogs.addEventListener(
      "click",
      () =>
        void deps.openLogs().then(
          (path) => (logsPath.textContent = `Logs: ${path}`),
          (e: unknown) => (logsPath.textContent = `The log folder cannot be opened: ${e instanceof Error ? e.message : String(e)}`),
        ),
      { signal },
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
      this.tlsOptions,
      h(
        "details",
        {},
        h("summary", {}, "Advanced"),
        h("label", { for: "namespace" }, "Channel prefix (namespace)"),
        this.namespace,
        h("div", { class: "logs" }, openLogs, logsPath),
      ),
      h("label", { for: "theme" }, "Theme"),
      this.theme,
      h("p", { class: "hint", id: "theme-hint" }, "Applies at once, on this computer only."),
      this.error,
      this.plainWarning,
      this.doctor.el,
      h("div", { class: "actions" }, this.doctor.button, cancel, this.submitButton),
    );
    this.el = h("div", { class: "overlay", hidden: true }, form);

    this.connection.addEventListener(
      "input",
      () => {
        // Another server: the warning was about the old one.
        this.hidePlainWarning();
        void this.validateConnection();
      },
      { signal },
    );
    this.doctor.button.addEventListener("click", () => void this.doctor.check(this.formRequest()), { signal });
    plainAccept.addEventListener(
      "click",
      () => {
        // From the form as it is now: edits since the warning count.
        const request = this.plainRequest ? this.formRequest() : null;
        this.hidePlainWarning();
        if (request) deps.submit({ ...request, allowPlainPassword: true });
      },
      { signal },
    );
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

  /**
   * Shows the form filled from `view`, with `error` (if any) at the bottom; with the request
   * that `failed` (a connect just refused), as showFailure does.
   */
  show(view: ProfileView, error: IpcError | null = null, failed: ConnectRequest | null = null): void {
    if (error && failed) this.showFailure(view, failed, error);
    else this.fill(view, error);
  }

  private fill(view: ProfileView, error: IpcError | null): void {
    this.connection.value = view.profile.connection;
    this.username.value = view.profile.username;
    this.namespace.value = view.profile.namespace;
    this.password.value = "";
    this.delivery = view.profile.delivery ?? "durable";
    // Profiles saved before the setting existed share presence.
    this.sharePresence.checked = view.profile.sharePresence !== false;
    this.theme.value = loadTheme();
    for (const { key } of TLS_FILES) this.tlsInputs[key].value = view.profile[key] ?? "";
    this.tlsOptions.open = TLS_FILES.some(({ key }) => !!view.profile[key]);
    this.hidePlainWarning();
    this.doctor.clear();
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

  /**
   * After a connect of `request` failed with `error`: the form shows that request (over the saved
   * profile `view`) with the error. A password sent in clear asks first; other errors the form
   * cannot explain get the doctor's report below them.
   */
  showFailure(view: ProfileView, request: ConnectRequest, error: IpcError): void {
    const profile: Profile = {
      connection: request.connection,
      username: request.username,
      namespace: request.namespace,
      delivery: request.delivery,
      sharePresence: request.sharePresence,
      tlsCa: request.tlsCa ?? null,
      tlsCert: request.tlsCert ?? null,
      tlsKey: request.tlsKey ?? null,
    };
    const plain = error.code === "plaintext_password";
    // The warning carries the message; Enter should not send the password in clear: no focus on it.
    this.fill({ ...view, profile }, plain ? null : error);
    // Only a refused password needs typing again.
    if (request.password && error.code !== "auth") this.password.value = request.password;
    if (plain) {
      this.plainRequest = request;
      this.plainText.textContent = error.message;
      this.plainWarning.hidden = false;
    } else if (!FORM_ERRORS.includes(error.code)) {
      void this.doctor.check(request);
    }
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
    this.deps.submit(this.formRequest());
  }

  /** The connect request the form describes (empty TLS fields: none). */
  private formRequest(): ConnectRequest {
    const file = (key: TlsKey): string | null => this.tlsInputs[key].value.trim() || null;
    const request: ConnectRequest = {
      connection: this.connection.value,
      username: this.username.value,
      namespace: this.namespace.value,
      delivery: this.delivery,
      sharePresence: this.sharePresence.checked,
      tlsCa: file("tlsCa"),
      tlsCert: file("tlsCert"),
      tlsKey: file("tlsKey"),
    };
    if (this.password.value) request.password = this.password.value;
    return request;
  }

  /** "Browse…": fills `input` with the file chosen (left as it is when cancelled). */
  private async browse(input: HTMLInputElement, title: string): Promise<void> {
    try {
      const path = await this.deps.pickFile(title);
      if (path) input.value = path;
    } catch (raw) {
      this.showError(toIpcError(raw));
    }
  }

  private hidePlainWarning(): void {
    this.plainRequest = null;
    this.plainText.textContent = "";
    this.plainWarning.hidden = true;
  }

  dispose(): void {
    this.abort.abort();
    this.doctor.dispose();
    this.el.remove();
  }
}
