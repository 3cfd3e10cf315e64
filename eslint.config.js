import js from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["dist/**", "node_modules/**", "**/*.min.js", "zoo/**"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "no-constant-condition": ["error", { checkLoops: false }],
    },
  },
  {
    // The hub page's browser script (served as is, no build step).
    files: ["src/hub/web/assets/**/*.js"],
    languageOptions: {
      sourceType: "module",
      globals: Object.fromEntries(
        ["window", "document", "location", "fetch", "URLSearchParams", "TextDecoder", "Node", "setInterval", "console", "sessionStorage", "URL"].map((name) => [name, "readonly"]),
      ),
    },
  },
  {
    files: ["bin/**/*.js", "*.js"],
    languageOptions: { globals: { process: "readonly", console: "readonly" } },
  },
);
