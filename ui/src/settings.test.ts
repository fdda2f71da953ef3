// The settings form against the mocked backend: TLS files, the doctor's report (by hand and after
// a failed connect), copying it, the warning before a password crosses the network in clear, and
// the theme override.

import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { clearMocks } from "@tauri-apps/api/mocks";
import type * as ipc from "./ipc";
import { connected, deferred, doctorReport, el, type Handler, type Harness, profile, settle, start, text } from "./test/harness";

const firstRun: ipc.ProfileView = { ...profile, profile: { ...profile.profile, username: "" } };

function refuse(code: string, message: string): Handler {
  return () => {
    throw { code, message };
  };
}

function type(selector: string, value: string): void {
  const input = el<HTMLInputElement>(selector);
  input.value = value;
  input.dispatchEvent(new Event("input"));
}

async function submit(): Promise<void> {
  el<HTMLFormElement>("#settings").requestSubmit();
  await settle();
}

async function click(selector: string): Promise<void> {
  el<HTMLButtonElement>(selector).click();
  await settle();
}

/** Fills the first-run form with a server and user, ready to connect. */
async function fillForm(connection = "redis://chat.example.com:6379"): Promise<void> {
  type("#connection", connection);
  type("#username", "alice");
  await settle();
}

describe("Settings", () => {
  let harness: Harness | null = null;
  const clipboard = Object.getOwnPropertyDescriptor(navigator, "clipboard");
  beforeEach(() => {
    document.body.replaceChildren();
  });
  afterEach(() => {
    harness?.app.dispose();
    harness = null;
    clearMocks();
    if (clipboard) Object.defineProperty(navigator, "clipboard", clipboard);
    else delete (navigator as { clipboard?: unknown }).clipboard;
  });

  function stubClipboard(writeText: (text: string) => Promise<void>): ReturnType<typeof vi.fn> {
    const spy = vi.fn(writeText);
    Object.defineProperty(navigator, "clipboard", { value: { writeText: spy }, configurable: true });
    return spy;
  }

  it("fills the TLS files from the profile and sends them with the connect request; empty fields are null", async () => {
    const files = { tlsCa: "/etc/company/ca.pem", tlsCert: "/home/alice/alice.crt", tlsKey: "/home/alice/alice.key" };
    harness = await start({ load_profile: () => ({ ...profile, profile: { ...profile.profile, ...files } }) });
    expect(harness.callsOf("connect")[0]?.request).toMatchObject(files);
    await click("#open-settings");
    expect(el<HTMLDetailsElement>("#tls-options").open).toBe(true);
    expect(el<HTMLInputElement>("#tls-ca").value).toBe(files.tlsCa);
    expect(el<HTMLInputElement>("#tls-cert").value).toBe(files.tlsCert);
    expect(el<HTMLInputElement>("#tls-key").value).toBe(files.tlsKey);
    expect(text("#tls-options")).toContain("no option to skip certificate checks");
    type("#tls-cert", "");
    type("#tls-key", "  ");
    await submit();
    expect(harness.callsOf("connect").at(-1)?.request).toMatchObject({ tlsCa: files.tlsCa, tlsCert: null, tlsKey: null });
  });

  it("a profile saved before TLS files connects with none and keeps the TLS section closed", async () => {
    const old: Partial<ipc.Profile> = { ...profile.profile };
    delete old.tlsCa;
    delete old.tlsCert;
    delete old.tlsKey;
    harness = await start({ load_profile: () => ({ ...profile, profile: old as ipc.Profile }) });
    expect(harness.callsOf("connect")[0]?.request).toMatchObject({ tlsCa: null, tlsCert: null, tlsKey: null });
    await click("#open-settings");
    expect(el<HTMLDetailsElement>("#tls-options").open).toBe(false);
    expect(el<HTMLInputElement>("#tls-ca").value).toBe("");
  });

  it("Open logs folder asks the backend and shows where the logs are", async () => {
    harness = await start({ load_profile: () => firstRun });
    await click("#open-logs");
    expect(harness.callsOf("open_logs_folder")).toHaveLength(1);
    expect(el("#logs-path").textContent).toBe("Logs: /home/u/.local/share/dev.redchat.desktop/logs");
  });

  it("Browse fills the TLS field with the file chosen, and cancelling leaves it as it was", async () => {
    const picks: (string | null)[] = ["/etc/company/ca.pem", null];
    harness = await start({ load_profile: () => firstRun, pick_file: () => picks.shift() ?? null });
    await click("#tls-ca-browse");
    expect(el<HTMLInputElement>("#tls-ca").value).toBe("/etc/company/ca.pem");
    expect(harness.callsOf("pick_file")[0]?.title).toEqual(expect.stringContaining("CA certificate"));
    await click("#tls-ca-browse");
    expect(el<HTMLInputElement>("#tls-ca").value).toBe("/etc/company/ca.pem");
    expect(harness.callsOf("pick_file")).toHaveLength(2);
  });

  it("Check connection runs the doctor for the form's settings and shows its text and one line per problem", async () => {
    const pending = deferred<ipc.DoctorReport>();
    harness = await start({ load_profile: () => firstRun, doctor: () => pending.promise });
    await fillForm("rediss://chat.example.com:6380");
    type("#tls-ca", "/etc/company/ca.pem");
    await click("#run-doctor");
    expect(harness.callsOf("doctor")[0]?.request).toMatchObject({
      connection: "rediss://chat.example.com:6380",
      username: "alice",
      tlsCa: "/etc/company/ca.pem",
      tlsCert: null,
      tlsKey: null,
    });
    expect(el<HTMLButtonElement>("#run-doctor").disabled).toBe(true);
    expect(text("#run-doctor")).toBe("Checking…");
    pending.resolve(
      doctorReport({
        text: "server: chat.example.com:6380 (TLS)\nSUBSCRIBE: refused by the ACL\n",
        problems: [
          { code: "tls_untrusted", message: "The server's certificate is not trusted: give its CA file." },
          { code: "command_denied", message: "The ACL refuses SUBSCRIBE for user alice." },
        ],
      }),
    );
    await settle();
    expect(el<HTMLButtonElement>("#run-doctor").disabled).toBe(false);
    expect(text("#run-doctor")).toBe("Check connection");
    expect(el("#doctor-report").hidden).toBe(false);
    expect(text("#doctor-text")).toBe("server: chat.example.com:6380 (TLS)\nSUBSCRIBE: refused by the ACL\n");
    const problems = [...document.querySelectorAll<HTMLElement>("#doctor-problems li.problem")];
    expect(problems.map((li) => li.dataset.code)).toEqual(["tls_untrusted", "command_denied"]);
    expect(problems.map((li) => li.textContent)).toEqual(["The server's certificate is not trusted: give its CA file.", "The ACL refuses SUBSCRIBE for user alice."]);
    expect(document.querySelector("#doctor-problems .no-problems")).toBeNull();
    // Checking is not connecting.
    expect(harness.callsOf("connect")).toEqual([]);
  });

  it("Check connection says so when the doctor finds no problems", async () => {
    harness = await start({ load_profile: () => firstRun });
    await fillForm();
    await click("#run-doctor");
    expect(document.querySelectorAll("#doctor-problems li.problem")).toHaveLength(0);
    expect(text("#doctor-problems li.no-problems")).toBe("No problems found.");
  });

  it("Copy report copies the report's text and says Copied", async () => {
    const writeText = stubClipboard(() => Promise.resolve());
    harness = await start({ load_profile: () => firstRun, doctor: () => doctorReport({ text: "the whole report\n" }) });
    await fillForm();
    await click("#run-doctor");
    await click("#copy-report");
    expect(writeText).toHaveBeenCalledWith("the whole report\n");
    expect(text("#copy-status")).toBe("Copied");
  });

  it("Copy report selects the text for the user to copy when the clipboard refuses", async () => {
    const writeText = stubClipboard(() => Promise.reject(new Error("not allowed")));
    harness = await start({ load_profile: () => firstRun, doctor: () => doctorReport({ text: "the whole report\n" }) });
    await fillForm();
    await click("#run-doctor");
    await click("#copy-report");
    expect(writeText).toHaveBeenCalledOnce();
    expect(text("#copy-status")).toBe("Select and copy the text above");
    expect(window.getSelection()?.toString()).toBe("the whole report\n");
  });

  it.each([
    ["tls", "TLS handshake with chat.example.com:6380 failed: the certificate is not trusted"],
    ["unreachable", "nothing answers at chat.example.com:6379"],
  ])("a failed connect (%s) shows the error and runs the doctor for the request that failed", async (code, message) => {
    harness = await start({
      load_profile: () => firstRun,
      connect: refuse(code, message),
      doctor: () => doctorReport({ problems: [{ code, message: "what to do about it" }] }),
    });
    await fillForm();
    type("#tls-ca", "/etc/company/ca.pem");
    await submit();
    expect(text("#settings-error")).toBe(message);
    expect(el("#settings-error").dataset.code).toBe(code);
    const connectRequest = harness.callsOf("connect")[0]?.request;
    expect(harness.callsOf("doctor").map((args) => args.request)).toEqual([connectRequest]);
    // The form still shows what was tried.
    expect(el<HTMLInputElement>("#connection").value).toBe("redis://chat.example.com:6379");
    expect(el<HTMLInputElement>("#tls-ca").value).toBe("/etc/company/ca.pem");
    const report = el("#doctor-report");
    expect(report.hidden).toBe(false);
    expect(el("#settings-error").compareDocumentPosition(report) & Node.DOCUMENT_POSITION_FOLLOWING).toBeTruthy();
    expect(el("#doctor-problems li.problem").dataset.code).toBe(code);
  });

  it.each(["invalid_settings", "invalid_username", "password_required", "auth"])("a failed connect with %s (fixed in the form) runs no doctor", async (code) => {
    harness = await start({ load_profile: () => firstRun, connect: refuse(code, `the form is wrong (${code})`) });
    await fillForm();
    await submit();
    expect(text("#settings-error")).toBe(`the form is wrong (${code})`);
    expect(harness.callsOf("doctor")).toEqual([]);
    expect(el("#doctor-report").hidden).toBe(true);
  });

  it("a password that would cross the network in clear asks first; accepting sends the same request with allowPlainPassword", async () => {
    const warning = "The password for chat.example.com:6379 would cross the network unencrypted (plain TCP, no TLS): anyone on the way could read it.";
    harness = await start({
      load_profile: () => firstRun,
      connect: (_cmd, args) => {
        if ((args.request as ipc.ConnectRequest).allowPlainPassword !== true) throw { code: "plaintext_password", message: warning };
        return { ...connected, addr: "chat.example.com:6379" };
      },
    });
    await fillForm();
    type("#password", "s3cret");
    await submit();
    const box = el("#plain-password-warning");
    expect(box.hidden).toBe(false);
    expect(box.getAttribute("role")).toBe("alert");
    expect(box.textContent).toContain(warning);
    expect(text("#plain-password-accept")).toBe("Send it unencrypted");
    expect(el("#settings-cancel").hidden).toBe(false);
    // The form explains this one: no doctor.
    expect(harness.callsOf("doctor")).toEqual([]);
    await click("#plain-password-accept");
    const [first, second] = harness.callsOf("connect").map((args) => args.request);
    expect(first).toMatchObject({ password: "s3cret" });
    expect(first).not.toHaveProperty("allowPlainPassword");
    expect(second).toEqual({ ...(first as ipc.ConnectRequest), allowPlainPassword: true });
    expect(document.querySelector(".overlay")?.hasAttribute("hidden")).toBe(true);
  });

  it("the plain password warning goes away when the connection string changes", async () => {
    harness = await start({ load_profile: () => firstRun, connect: refuse("plaintext_password", "would cross the network unencrypted") });
    await fillForm();
    await submit();
    expect(el("#plain-password-warning").hidden).toBe(false);
    type("#connection", "rediss://chat.example.com:6380");
    expect(el("#plain-password-warning").hidden).toBe(true);
  });

  it("a doctor message with markup is shown as text, never HTML", async () => {
    const hostile = "<img src=x onerror=alert(1)>";
    harness = await start({
      load_profile: () => firstRun,
      doctor: () => doctorReport({ text: `server said ${hostile}`, problems: [{ code: "redis", message: hostile }] }),
    });
    await fillForm();
    await click("#run-doctor");
    expect(document.querySelector("#doctor-report img, .settings img")).toBeNull();
    expect(text("#doctor-problems li.problem")).toBe(hostile);
    expect(text("#doctor-text")).toBe(`server said ${hostile}`);
    expect(el("#doctor-report").innerHTML).toContain("&lt;img src=x onerror=alert(1)&gt;");
  });
});

describe("Settings: theme", () => {
  let harness: Harness | null = null;
  const root = document.documentElement;
  beforeEach(() => {
    document.body.replaceChildren();
    localStorage.clear();
    root.removeAttribute("data-theme");
  });
  afterEach(() => {
    harness?.app.dispose();
    harness = null;
    clearMocks();
    localStorage.clear();
    root.removeAttribute("data-theme");
  });

  it("offers the three choices under a label, after the fields and before the buttons", async () => {
    harness = await start({ load_profile: () => firstRun });
    const select = el<HTMLSelectElement>("#theme");
    expect([...select.options].map((o) => [o.value, o.textContent])).toEqual([
      ["system", "Follow the system"],
      ["light", "Light"],
      ["dark", "Dark"],
    ]);
    expect(text('label[for="theme"]')).toBe("Theme");
    expect(select.closest("form")?.id).toBe("settings");
    expect(el("#namespace").compareDocumentPosition(select) & Node.DOCUMENT_POSITION_FOLLOWING, "after the Advanced fields").toBeTruthy();
    expect(select.compareDocumentPosition(el("#settings .actions")) & Node.DOCUMENT_POSITION_FOLLOWING, "before the buttons").toBeTruthy();
  });

  it("shows the saved choice when the form opens (system when none is saved)", async () => {
    harness = await start({ load_profile: () => firstRun });
    expect(el<HTMLSelectElement>("#theme").value).toBe("system");
    harness.app.dispose();
    document.body.replaceChildren();
    localStorage.setItem("redchat.theme", "dark");
    harness = await start();
    await click("#open-settings");
    expect(el<HTMLSelectElement>("#theme").value).toBe("dark");
  });

  it("applies on change, without Connect, and is saved; following the system again removes the override", async () => {
    harness = await start({ load_profile: () => firstRun });
    const select = el<HTMLSelectElement>("#theme");
    select.value = "dark";
    select.dispatchEvent(new Event("change"));
    expect(root.getAttribute("data-theme")).toBe("dark");
    expect(localStorage.getItem("redchat.theme")).toBe("dark");
    expect(el(".overlay").hidden, "the form stays open").toBe(false);
    select.value = "system";
    select.dispatchEvent(new Event("change"));
    expect(root.hasAttribute("data-theme")).toBe(false);
    expect(harness.callsOf("connect")).toEqual([]);
  });

  it("is not part of the connect request; only the preference store keeps it", async () => {
    harness = await start({ load_profile: () => firstRun });
    await fillForm();
    const select = el<HTMLSelectElement>("#theme");
    select.value = "light";
    select.dispatchEvent(new Event("change"));
    await submit();
    const request = harness.callsOf("connect")[0]?.request;
    expect(request).toBeDefined();
    expect(request).not.toHaveProperty("theme");
    const others = harness.calls.filter((c) => c.cmd !== "save_pref");
    expect(JSON.stringify(others), "no other IPC call carries the theme").not.toMatch(/theme|"light"/);
    expect(harness.callsOf("save_pref")).toEqual([{ key: "redchat.theme", value: "light" }]);
    expect(root.getAttribute("data-theme")).toBe("light");
  });
});
