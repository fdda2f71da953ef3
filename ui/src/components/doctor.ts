// The doctor's report inside the settings form: "Check connection" (#run-doctor, "Checking…"
// while it runs) and the report (#doctor-report): the text (#doctor-text), one
// li.problem[data-code] per problem in #doctor-problems (li.no-problems when there is none),
// "Copy report" (#copy-report) with its status (#copy-status). Everything in the report comes
// from the server and the backend: it goes in as text only.

import { h, replaceChildren, type Disposable } from "../dom";
import { toIpcError, type ConnectRequest, type DoctorReport } from "../ipc";

export class DoctorPanel implements Disposable {
  readonly el: HTMLElement;
  /** "Check connection", for the form's actions. */
  readonly button: HTMLButtonElement;
  private readonly abort = new AbortController();
  private readonly text: HTMLPreElement;
  private readonly problems: HTMLUListElement;
  private readonly failure: HTMLElement;
  private readonly copyStatus: HTMLElement;
  private report: DoctorReport | null = null;
  /** Bumped per run (and clear), so a late report of an earlier run is dropped. */
  private seq = 0;

  constructor(private readonly run: (request: ConnectRequest) => Promise<DoctorReport>) {
    const signal = this.abort.signal;
    this.button = h("button", { type: "button", id: "run-doctor" }, "Check connection");
    this.text = h("pre", { id: "doctor-text" });
    this.problems = h("ul", { id: "doctor-problems", class: "problems" });
    this.failure = h("p", { class: "error", id: "doctor-error", role: "alert" });
    this.copyStatus = h("span", { class: "hint", id: "copy-status", role: "status" });
    const copy = h("button", { type: "button", id: "copy-report" }, "Copy report");
    this.el = h(
      "section",
      { id: "doctor-report", class: "doctor-report", hidden: true, "aria-live": "polite" },
      h("h3", {}, "Connection check"),
      this.failure,
      this.text,
      this.problems,
      h("div", { class: "copy" }, copy, this.copyStatus),
    );
    copy.addEventListener("click", () => void this.copy(), { signal });
  }

  /** Runs the doctor for `request` and shows its report. */
  async check(request: ConnectRequest): Promise<void> {
    const seq = ++this.seq;
    this.busy(true);
    try {
      const report = await this.run(request);
      if (seq === this.seq) this.show(report);
    } catch (raw) {
      if (seq !== this.seq) return;
      this.clear();
      this.el.hidden = false;
      this.failure.textContent = `The check could not run: ${toIpcError(raw).message}`;
    } finally {
      if (seq === this.seq) this.busy(false);
    }
  }

  show(report: DoctorReport): void {
    this.report = report;
    this.failure.textContent = "";
    this.copyStatus.textContent = "";
    this.text.textContent = report.text;
    const items = report.problems.map((problem) => {
      const li = h("li", { class: "problem" });
      li.dataset.code = problem.code;
      li.textContent = problem.message;
      return li;
    });
    replaceChildren(this.problems, ...(items.length ? items : [h("li", { class: "no-problems" }, "No problems found.")]));
    this.el.hidden = false;
    // The report is below the form's fields: bring it into view.
    this.el.scrollIntoView?.({ block: "start" });
  }

  /** Hides the report (a run in flight is forgotten). */
  clear(): void {
    this.seq++;
    this.busy(false);
    this.report = null;
    this.text.textContent = "";
    this.failure.textContent = "";
    this.copyStatus.textContent = "";
    replaceChildren(this.problems);
    this.el.hidden = true;
  }

  private busy(on: boolean): void {
    this.button.disabled = on;
    this.button.textContent = on ? "Checking…" : "Check connection";
  }

  /** Copies the report's text; without a clipboard, selects it for the user to copy. */
  private async copy(): Promise<void> {
    const report = this.report;
    if (!report) return;
    try {
      if (!navigator.clipboard?.writeText) throw new Error("no clipboard");
      await navigator.clipboard.writeText(report.text);
      if (report === this.report) this.copyStatus.textContent = "Copied";
    } catch {
      if (report !== this.report) return;
      this.selectText();
      this.copyStatus.textContent = "Select and copy the text above";
    }
  }

  private selectText(): void {
    try {
      const selection = window.getSelection();
      if (!selection) return;
      const range = document.createRange();
      range.selectNodeContents(this.text);
      selection.removeAllRanges();
      selection.addRange(range);
    } catch {
      // Nothing to select with: the status still says what to do.
    }
  }

  dispose(): void {
    this.abort.abort();
    this.seq++;
    this.el.remove();
  }
}
