// Lint for the UI. The important rule: remote text is untrusted, so nothing may assign or
// call HTML-parsing sinks (innerHTML, outerHTML, insertAdjacentHTML, document.write).
import js from "@eslint/js";
import tseslint from "typescript-eslint";

const htmlSinks = [
  { selector: "AssignmentExpression[left.property.name='innerHTML']", message: "Never set innerHTML: render remote text with textContent." },
  { selector: "AssignmentExpression[left.property.name='outerHTML']", message: "Never set outerHTML." },
  { selector: "CallExpression[callee.property.name='insertAdjacentHTML']", message: "Never use insertAdjacentHTML." },
  { selector: "CallExpression[callee.object.name='document'][callee.property.name=/^write(ln)?$/]", message: "Never use document.write." },
  { selector: "CallExpression[callee.property.name='createContextualFragment']", message: "Never parse HTML strings." },
];

export default tseslint.config(
  { ignores: ["ui/dist/**", "node_modules/**", "target/**", "src-tauri/**"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ["ui/**/*.ts"],
    rules: {
      "no-restricted-syntax": ["error", ...htmlSinks],
      "no-restricted-properties": [
        "error",
        { property: "innerHTML", message: "Never read or write innerHTML in app code." },
        { property: "outerHTML", message: "Never use outerHTML." },
      ],
    },
  },
  {
    // Tests may read innerHTML to prove that nothing was parsed as markup.
    files: ["ui/**/*.test.ts"],
    rules: { "no-restricted-properties": "off" },
  },
);
