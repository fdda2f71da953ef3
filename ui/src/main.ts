// Entry point: mounts the app into #app.

import { App } from "./app";
import * as ipc from "./ipc";

const root = document.getElementById("app");
if (root) {
  const app = new App(ipc);
  root.append(app.el);
  void app.start();
}
