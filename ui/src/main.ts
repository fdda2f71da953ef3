// Entry point: mounts the app into #app.

import { App } from "./app";
import { mountBaseline } from "./baseline";
import * as ipc from "./ipc";
import { applyTheme, loadTheme } from "./theme";

// Before anything renders: the saved theme (or the system's).
applyTheme(loadTheme());

const root = document.getElementById("app");
if (root && location.hash === "#baseline") {
  // The firehose benchmark's baseline page (tests/e2e/examples/firehose.rs).
  mountBaseline(root);
} else if (root) {
  const app = new App(ipc);
  root.append(app.el);
  void app.start();
}
