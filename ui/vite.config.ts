import { defineConfig } from "vitest/config";

// The desktop shell loads ui/dist (tauri.conf.json: build.frontendDist).
export default defineConfig({
  clearScreen: false,
  server: { port: 5173, strictPort: true },
  build: { outDir: "dist", emptyOutDir: true, target: "es2022" },
  test: { environment: "happy-dom", include: ["src/**/*.test.ts"], globals: true },
});
